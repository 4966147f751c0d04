//! arXiv identifiers: recognising them in links and strings, and what they encode.

use std::fmt;

/// A validated arXiv identifier without its version suffix, e.g. `2511.19155` or `hep-th/0101001`.
///
/// Both the current scheme (`YYMM.NNNN` until 2014, `YYMM.NNNNN` since) and the old
/// `archive[.SC]/YYMMNNN` scheme are accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArxivId(String);

impl ArxivId {
    /// Finds an arXiv id in a link or id string, dropping any version suffix.
    ///
    /// Accepts bare ids (`2511.19155v2`), `arXiv:`-prefixed ids, and `arxiv.org` URLs under
    /// `abs/`, `pdf/` or `html/` (with or without `.pdf`, query or fragment). Returns `None`
    /// when the string holds no well-formed id.
    ///
    /// ```
    /// use papermap_corpus::ArxivId;
    /// let id = ArxivId::parse("https://arxiv.org/pdf/2502.08279v3.pdf").unwrap();
    /// assert_eq!(id.as_str(), "2502.08279");
    /// assert_eq!(ArxivId::parse("arxiv.org/abs/hep-th/0101001v1").unwrap().as_str(), "hep-th/0101001");
    /// assert!(ArxivId::parse("https://example.org/paper.pdf").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<ArxivId> {
        let text = text.trim().trim_start_matches('<').trim_end_matches('>');
        let candidate = match find_ascii_case_insensitive(text, "arxiv.org/") {
            Some(at) => {
                let path = &text[at + "arxiv.org/".len()..];
                ["abs/", "pdf/", "html/"]
                    .iter()
                    .find_map(|prefix| path.strip_prefix(prefix))?
            }
            None => strip_prefix_ascii_case_insensitive(text, "arxiv:").unwrap_or(text),
        };
        let candidate = candidate
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .trim_end_matches('/');
        let candidate = candidate.strip_suffix(".pdf").unwrap_or(candidate);
        let unversioned = strip_version(candidate);
        (is_new_style(unversioned) || is_old_style(unversioned))
            .then(|| ArxivId(unversioned.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The year of first submission, which every arXiv id encodes in its `YYMM` digits.
    pub fn year(&self) -> u16 {
        let digits = match self.0.split_once('/') {
            Some((_, number)) => number,
            None => &self.0,
        };
        // Validation guarantees two leading ASCII digits.
        let yy = digits[..2].parse::<u16>().unwrap_or(0);
        // Old-style ids start in August 1991; new-style ones in April 2007.
        if yy >= 91 {
            1900 + yy
        } else {
            2000 + yy
        }
    }
}

impl fmt::Display for ArxivId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

fn strip_prefix_ascii_case_insensitive<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.as_bytes().get(..prefix.len())?;
    // The prefix is ASCII, so a case-insensitive match ends on a char boundary.
    head.eq_ignore_ascii_case(prefix.as_bytes())
        .then(|| &text[prefix.len()..])
}

/// Drops a trailing `vN` version marker, if any.
fn strip_version(id: &str) -> &str {
    let without_digits = id.trim_end_matches(|c: char| c.is_ascii_digit());
    match without_digits.strip_suffix('v') {
        Some(base) if without_digits.len() < id.len() => base,
        _ => id,
    }
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn valid_month(yymm: &str) -> bool {
    matches!(yymm[2..].parse::<u8>(), Ok(1..=12))
}

/// `YYMM.NNNN` or `YYMM.NNNNN`.
fn is_new_style(id: &str) -> bool {
    match id.split_once('.') {
        Some((yymm, number)) => {
            yymm.len() == 4
                && all_digits(yymm)
                && valid_month(yymm)
                && (number.len() == 4 || number.len() == 5)
                && all_digits(number)
        }
        None => false,
    }
}

/// `archive/YYMMNNN` or `archive.SC/YYMMNNN`, e.g. `hep-th/0101001`, `math.GT/0309136`.
fn is_old_style(id: &str) -> bool {
    let Some((archive, number)) = id.split_once('/') else {
        return false;
    };
    let (name, subject) = match archive.split_once('.') {
        Some((name, subject)) => (name, Some(subject)),
        None => (archive, None),
    };
    let name_ok = !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
    let subject_ok = match subject {
        Some(s) => s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()),
        None => true,
    };
    name_ok && subject_ok && number.len() == 7 && all_digits(number) && valid_month(&number[..4])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Option<String> {
        ArxivId::parse(text).map(|id| id.as_str().to_string())
    }

    #[test]
    fn reads_digest_links_and_bare_ids() {
        assert_eq!(
            parsed("https://arxiv.org/pdf/2511.19155").as_deref(),
            Some("2511.19155")
        );
        assert_eq!(
            parsed("https://arxiv.org/abs/2511.19155v2").as_deref(),
            Some("2511.19155")
        );
        assert_eq!(
            parsed("http://export.arxiv.org/pdf/2511.19155v12.pdf").as_deref(),
            Some("2511.19155")
        );
        assert_eq!(
            parsed("https://arxiv.org/html/2511.19155v1#S2").as_deref(),
            Some("2511.19155")
        );
        assert_eq!(
            parsed("https://arxiv.org/abs/0704.0001?context=hep").as_deref(),
            Some("0704.0001")
        );
        assert_eq!(parsed("arXiv:2502.08279v1").as_deref(), Some("2502.08279"));
        assert_eq!(parsed(" 0704.2000 ").as_deref(), Some("0704.2000"));
    }

    #[test]
    fn reads_old_style_ids() {
        assert_eq!(
            parsed("hep-th/0101001v3").as_deref(),
            Some("hep-th/0101001")
        );
        assert_eq!(
            parsed("https://arxiv.org/abs/math.GT/0309136").as_deref(),
            Some("math.GT/0309136")
        );
        assert_eq!(
            parsed("https://arxiv.org/pdf/cond-mat/9912345v1.pdf").as_deref(),
            Some("cond-mat/9912345")
        );
    }

    #[test]
    fn rejects_malformed_ids() {
        for text in [
            "",
            "2511.191",
            "2511.191555",
            "2513.19155",
            "25x1.19155",
            "v2",
            "2511.19155vx",
            "HEP-TH/0101001",
            "hep-th/010100",
            "https://arxiv.org/list/cs.CL/recent",
            "https://example.org/abs/2511.19155",
            "paper-17",
        ] {
            assert_eq!(parsed(text), None, "{text:?} should not parse");
        }
    }

    #[test]
    fn year_comes_from_the_id() {
        assert_eq!(ArxivId::parse("2511.19155").unwrap().year(), 2025);
        assert_eq!(ArxivId::parse("0704.0001").unwrap().year(), 2007);
        assert_eq!(ArxivId::parse("hep-th/9901001").unwrap().year(), 1999);
        assert_eq!(ArxivId::parse("hep-th/0101001").unwrap().year(), 2001);
    }
}
