"""A real SMTP server for the notifier's email tests (aiosmtpd): every accepted message is written
to DIR as N.eml (the DATA as received) and N.json (envelope sender and recipients, the EHLO name,
the authenticated user and mechanism, whether the session was under TLS).

It listens on HOST and PORT (0 = any free port) and prints the port on its first stdout line.
Options: --user/--password require AUTH (PLAIN and LOGIN, or only --mechanisms); --cert/--key
with --starttls offer STARTTLS, with --implicit-tls wrap every connection in TLS at once.

Pharos — alerting/tests/smtp_sink.py
"""

import argparse
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.directory, str(self.count))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        auth = session.auth_data
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "helo": session.host_name,
            "auth_user": auth.login.decode() if isinstance(auth, LoginPassword) else None,
            "auth_mechanism": getattr(session, "pharos_mechanism", None),
            "tls": session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
        }
        with open(base + ".json.tmp", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".json.tmp", base + ".json")
        return "250 OK stored"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--mechanisms", default="PLAIN,LOGIN")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--starttls", action="store_true")
    parser.add_argument("--implicit-tls", action="store_true")
    args = parser.parse_args()

    context = None
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == args.user
            and auth_data.password.decode() == args.password
        )
        if ok:
            session.pharos_mechanism = mechanism
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    allowed = {m.strip().upper() for m in args.mechanisms.split(",")}
    excluded = [m for m in ("PLAIN", "LOGIN") if m not in allowed]
    sink = Sink(args.dir)

    def factory():
        return SMTP(
            sink,
            hostname="sink.test",
            tls_context=context if args.starttls else None,
            authenticator=authenticator if args.user else None,
            auth_required=bool(args.user),
            auth_require_tls=False,
            auth_exclude_mechanism=excluded,
        )

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            factory, host=args.host, port=args.port, ssl=context if args.implicit_tls else None
        )
        print(server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
