"""Drives Pharos' Elasticsearch API with the official Python client (8.x or 9.x, whichever is on
PYTHONPATH): info(), helpers.bulk() and search(), as an application would.

Usage: es_client.py <base url, e.g. http://127.0.0.1:9090/elastic> <index name>
Prints one JSON line of findings; exits non-zero on the first broken expectation.
"""
import datetime
import json
import sys

import elasticsearch
from elasticsearch import Elasticsearch, helpers

url, index = sys.argv[1], sys.argv[2]
es = Elasticsearch(url, request_timeout=30)

info = es.info()
assert info["tagline"] == "You Know, for Search", info
major = int(info["version"]["number"].split(".")[0])
assert major >= 8, info

base = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
docs = []
for i in range(120):
    docs.append({
        "_index": index,
        "_source": {
            "@timestamp": (base + datetime.timedelta(seconds=i)).isoformat(),
            "message": f"request {i} served by backend-{i % 4}",
            "level": "error" if i % 3 == 0 else "info",
            "http": {"status": 500 if i % 3 == 0 else 200},
            "n": i,
        },
    })
ok, errors = helpers.bulk(es, docs, refresh=True)
assert ok == 120 and not errors, (ok, errors)

everything = es.search(index=index, query={"match_all": {}}, size=0, track_total_hits=True)
assert everything["hits"]["total"] == {"value": 120, "relation": "eq"}, everything["hits"]["total"]

phrase = es.search(index=index, query={"match_phrase": {"message": "served by backend-2"}}, size=100)
assert phrase["hits"]["total"]["value"] == 30, phrase["hits"]["total"]
assert all("backend-2" in h["_source"]["message"] for h in phrase["hits"]["hits"])

errors_only = es.search(
    index=index.split("-")[0] + "-*",
    query={"bool": {"filter": [{"term": {"level": "error"}}, {"range": {"n": {"gte": 60}}}]}},
    sort=[{"@timestamp": {"order": "desc"}}],
    size=5,
)
hits = errors_only["hits"]["hits"]
assert errors_only["hits"]["total"]["value"] == 20, errors_only["hits"]["total"]
assert [h["_source"]["n"] for h in hits] == [117, 114, 111, 108, 105], [h["_source"] for h in hits]

by_level = es.search(index=index, size=0, aggs={"levels": {"terms": {"field": "level"}}})
buckets = {b["key"]: b["doc_count"] for b in by_level["aggregations"]["levels"]["buckets"]}
assert buckets == {"info": 80, "error": 40}, buckets

count = es.count(index=index, query={"query_string": {"query": "level:error AND message:backend-0"}})
assert count["count"] == 10, count

print(json.dumps({"client": elasticsearch.__versionstr__, "server": info["version"]["number"], "ok": True}))
