//! Sizes as configuration files write them: `512MB`, `32MiB`, `1GB`, `4096`, `100KB`.
//!
//! As in Prometheus (`--storage.tsdb.retention.size`), the units are powers of 1024 whether or not
//! they carry the `i`: `B`, `KB`/`KiB`, `MB`/`MiB`, `GB`/`GiB`, `TB`/`TiB`, `PB`/`PiB`, `EB`/`EiB`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A number of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

const UNITS: [&str; 7] = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid size {0:?}: expected a whole number with an optional unit (B, KB, MB, GB, TB, PB, EB; base 1024)")]
pub struct ByteSizeError(String);

impl ByteSize {
    pub const fn mib(n: u64) -> Self {
        ByteSize(n << 20)
    }

    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

impl std::str::FromStr for ByteSize {
    type Err = ByteSizeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || ByteSizeError(text.to_string());
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(err());
        }
        let number: u64 = text[..digits].parse().map_err(|_| err())?;
        let unit = text[digits..].trim_start();
        let exponent = if unit.is_empty() {
            0
        } else {
            let unit = unit.to_ascii_uppercase().replace("IB", "B");
            UNITS.iter().position(|u| *u == unit).ok_or_else(err)?
        };
        number.checked_mul(1u64 << (10 * exponent)).map(ByteSize).ok_or_else(err)
    }
}

impl fmt::Display for ByteSize {
    /// The largest unit that divides the size exactly, e.g. `32MiB`, `1000B`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut exponent = 0;
        while exponent < UNITS.len() - 1 && self.0 != 0 && self.0 % (1u64 << (10 * (exponent + 1))) == 0 {
            exponent += 1;
        }
        if exponent == 0 {
            write!(f, "{}B", self.0)
        } else {
            write!(f, "{}{}iB", self.0 >> (10 * exponent), &UNITS[exponent][..1])
        }
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_base_1024() {
        assert_eq!("4096".parse(), Ok(ByteSize(4096)));
        assert_eq!("10B".parse(), Ok(ByteSize(10)));
        assert_eq!("1KB".parse(), Ok(ByteSize(1024)));
        assert_eq!("32MiB".parse(), Ok(ByteSize(32 << 20)));
        assert_eq!("512MB".parse(), Ok(ByteSize(512 << 20)));
        assert_eq!("2 GB".parse(), Ok(ByteSize(2 << 30)));
        assert_eq!("1tb".parse(), Ok(ByteSize(1 << 40)));
        for bad in ["", "MB", "1.5GB", "-1KB", "1XB", "99999999999EB"] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad}");
        }
    }

    #[test]
    fn displays_the_largest_exact_unit() {
        assert_eq!(ByteSize(32 << 20).to_string(), "32MiB");
        assert_eq!(ByteSize(1000).to_string(), "1000B");
        assert_eq!(ByteSize(0).to_string(), "0B");
        assert_eq!(ByteSize(3 << 30).to_string(), "3GiB");
    }

    #[test]
    fn deserializes_numbers_and_strings() {
        assert_eq!(serde_json::from_str::<ByteSize>("1024").unwrap(), ByteSize(1024));
        assert_eq!(serde_json::from_str::<ByteSize>("\"1KiB\"").unwrap(), ByteSize(1024));
        assert!(serde_json::from_str::<ByteSize>("\"lots\"").is_err());
    }
}

// Pharos — proto/src/byte_size.rs
