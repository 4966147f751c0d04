//! Query strings, decoded by hand: a parameter that is not UTF-8, unknown, repeated where it
//! may not be, or out of range is a 400 that names it.

use crate::error::ApiError;

/// Most hits one request may ask for.
pub const MAX_K: usize = 1000;

/// The decoded `name=value` pairs of a query string, in order.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes `raw` (`+` is a space, `%xx` a byte); every name must be in `allowed`.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Params, ApiError> {
        let mut pairs = Vec::new();
        for part in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let name = decode(name, "a query parameter name")?;
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{name}`: this endpoint takes {}",
                    allowed.join(", ")
                )));
            }
            let value = decode(value, &format!("query parameter `{name}`"))?;
            pairs.push((name, value));
        }
        Ok(Params { pairs })
    }

    /// The value of `name`; given twice it is an error (which one was meant?).
    pub fn one<'a>(&'a self, name: &'a str) -> Result<Option<&'a str>, ApiError> {
        let mut values = self.all(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::bad_request(format!(
                "query parameter `{name}` is given more than once; give it once"
            )));
        }
        Ok(first)
    }

    /// Every value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `k`: how many hits, 1..=[`MAX_K`], 10 when absent.
    pub fn k(&self) -> Result<usize, ApiError> {
        let Some(raw) = self.one("k")? else {
            return Ok(10);
        };
        match raw.parse::<usize>() {
            Ok(k) if (1..=MAX_K).contains(&k) => Ok(k),
            _ => Err(ApiError::bad_request(format!(
                "query parameter `k` is {raw:?}: give a whole number from 1 to {MAX_K}"
            ))),
        }
    }

    /// A yes/no parameter: absent is `false`; `true`, `1`, `yes` or empty is `true`.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.one(name)? {
            None => Ok(false),
            Some("" | "true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(other) => Err(ApiError::bad_request(format!(
                "query parameter `{name}` is {other:?}: give true or false"
            ))),
        }
    }
}

fn decode(text: &str, what: &str) -> Result<String, ApiError> {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            ApiError::bad_request(format!(
                "{what} is not UTF-8 once percent-decoded: encode text as UTF-8 before percent-encoding it"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_spaces_percent_escapes_and_repeats() {
        let p = Params::parse(
            Some("q=graph+neural%20nets&where=a%3Db&where=c=d&k=5"),
            &["q", "k", "where"],
        )
        .unwrap();
        assert_eq!(p.one("q").unwrap(), Some("graph neural nets"));
        assert_eq!(p.all("where").collect::<Vec<_>>(), ["a=b", "c=d"]);
        assert_eq!(p.k().unwrap(), 5);
    }

    #[test]
    fn refuses_unknown_repeated_out_of_range_and_non_utf8() {
        let err = |raw: &str| Params::parse(Some(raw), &["q", "k"]).and_then(|p| p.k().map(|_| p));
        assert!(err("kk=3").unwrap_err().message.contains("`kk`"));
        assert!(err("k=0").unwrap_err().message.contains("1 to 1000"));
        assert!(err("k=1001").is_err());
        assert!(err("k=-1").is_err());
        assert!(err("k=1&k=2")
            .unwrap_err()
            .message
            .contains("more than once"));
        assert!(err("q=%FF")
            .unwrap_err()
            .message
            .contains("`q` is not UTF-8"));
        assert_eq!(Params::parse(None, &[]).unwrap().k().unwrap(), 10);
    }
}
