//! Terms of a document without one owned string per token: each term (a word, or two adjacent
//! words) is known by a 64-bit hash of its text, and its text is recovered only for the few
//! terms that become keywords ([`term_text`]).
//!
//! A word is a run of letters and digits holding at least one letter and at least two
//! characters, lowercased; letters joined by a hyphen stay one word ("multi-modal"), so
//! prefixes such as "multi" or "non" never stand alone. Stopwords, LaTeX commands (`\alpha`)
//! and bare prefixes are dropped; a dropped word or punctuation is a gap bigrams never span.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

use crate::stopwords::{ENGLISH, SCHOLARLY};
use crate::TopicDoc;

/// The hash of a term's text.
pub(crate) type TermHash = u64;

/// Keys of maps keyed by [`TermHash`] are already well mixed, so they are used as they are.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// A hash map keyed by term hashes.
pub(crate) type TermMap<V> =
    std::collections::HashMap<TermHash, V, BuildHasherDefault<PassThrough>>;

/// Prefixes that are not topics on their own (they occur split from a hyphenated word).
const PREFIXES: &[&str] = &[
    "anti", "co", "de", "inter", "intra", "multi", "non", "post", "pre", "re", "semi", "sub",
    "super", "un",
];

/// Hashes of the words never kept (stopwords and bare prefixes): one set lookup per word instead
/// of binary searches over strings, which were over half of the keyword time at 1,000,000 papers.
static DROPPED: LazyLock<HashSet<TermHash, BuildHasherDefault<PassThrough>>> =
    LazyLock::new(|| {
        ENGLISH
            .iter()
            .chain(SCHOLARLY)
            .chain(PREFIXES)
            .map(|w| hash_word(w))
            .collect()
    });

pub(crate) fn hash_word(word: &str) -> TermHash {
    // FNV-1a, then a final mix: fast on short words and stable across runs and machines.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in word.as_bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The hash of the bigram "a b" from its words' hashes (order matters).
pub(crate) fn hash_pair(a: TermHash, b: TermHash) -> TermHash {
    mix(a.rotate_left(17) ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// Calls `f(hash, text)` for every word and (when `bigrams`) every pair of adjacent kept words
/// of `doc` (title, then abstract, with a gap between). `text` is the lowercased term, valid
/// only during the call; most callers ignore it.
pub(crate) fn for_each_term(doc: &TopicDoc, bigrams: bool, f: &mut dyn FnMut(TermHash, &str)) {
    let mut scan = Scanner {
        word: String::new(),
        prev: None,
        pair: String::new(),
        bigrams,
    };
    scan.text(&doc.title, f);
    scan.gap();
    scan.text(&doc.text, f);
}

struct Scanner {
    word: String,
    /// The previous kept word (hash and text) when no gap followed it.
    prev: Option<(TermHash, usize)>,
    /// Text of the previous kept word (its length in `prev`).
    pair: String,
    bigrams: bool,
}

impl Scanner {
    fn text(&mut self, text: &str, f: &mut dyn FnMut(TermHash, &str)) {
        let mut command = false;
        let mut chars = text.chars().peekable();
        while let Some(ch) = chars.next() {
            if ch.is_ascii_alphanumeric() {
                self.word.push(ch.to_ascii_lowercase());
                continue;
            }
            if !ch.is_ascii() && ch.is_alphanumeric() {
                self.word.extend(ch.to_lowercase());
                continue;
            }
            // "multi-modal": a hyphen between two letters keeps the word going; so does an
            // underscore inside an identifier ("Binary_EN" is a dataset name, not "en").
            let joins = match ch {
                '-' => {
                    self.word.chars().last().is_some_and(char::is_alphabetic)
                        && chars.peek().is_some_and(|c| c.is_alphabetic())
                }
                '_' => !self.word.is_empty() && chars.peek().is_some_and(|c| c.is_alphanumeric()),
                _ => false,
            };
            if joins {
                self.word.push(ch);
                continue;
            }
            self.flush(command, f);
            if !ch.is_whitespace() {
                self.gap();
            }
            command = ch == '\\';
        }
        self.flush(command, f);
    }

    fn gap(&mut self) {
        self.prev = None;
    }

    fn flush(&mut self, command: bool, f: &mut dyn FnMut(TermHash, &str)) {
        if self.word.is_empty() {
            return;
        }
        let word = std::mem::take(&mut self.word);
        let h = hash_word(&word);
        let keep = !command
            && word.chars().nth(1).is_some()
            && word.chars().any(char::is_alphabetic)
            && !DROPPED.contains(&h);
        if keep {
            f(h, &word);
            if self.bigrams {
                if let Some((p, len)) = self.prev {
                    self.pair.truncate(len);
                    self.pair.push(' ');
                    self.pair.push_str(&word);
                    f(hash_pair(p, h), &self.pair);
                }
                self.pair.clear();
                self.pair.push_str(&word);
                self.prev = Some((h, word.len()));
            }
        } else {
            self.gap();
        }
        self.word = word;
        self.word.clear();
    }
}

/// The text of the term with hash `hash` in `doc`, if it occurs there.
pub(crate) fn term_text(doc: &TopicDoc, bigrams: bool, hash: TermHash) -> Option<String> {
    let mut found = None;
    for_each_term(doc, bigrams, &mut |h, text| {
        if h == hash && found.is_none() {
            found = Some(text.to_string());
        }
    });
    found
}

/// The key terms two documents share ("why are these related"): words and adjacent word pairs
/// of `a` that `b` has too, with the keywords' tokenisation (stopwords, LaTeX and bare prefixes
/// dropped). A word that is part of a shared pair gives way to the pair. In order of first
/// appearance in `a`, at most `max`.
pub fn shared_terms(a: &TopicDoc, b: &TopicDoc, max: usize) -> Vec<String> {
    let mut in_b: HashSet<TermHash, BuildHasherDefault<PassThrough>> = HashSet::default();
    for_each_term(b, true, &mut |h, _| {
        in_b.insert(h);
    });
    let mut seen: HashSet<TermHash, BuildHasherDefault<PassThrough>> = HashSet::default();
    let mut shared: Vec<String> = Vec::new();
    for_each_term(a, true, &mut |h, text| {
        if in_b.contains(&h) && seen.insert(h) {
            shared.push(text.to_string());
        }
    });
    let pairs: Vec<String> = shared.iter().filter(|t| t.contains(' ')).cloned().collect();
    shared.retain(|t| t.contains(' ') || !pairs.iter().any(|p| p.split(' ').any(|w| w == t)));
    shared.truncate(max);
    shared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_terms_are_terms_of_both_texts_pairs_first_of_their_words() {
        let a = doc(
            "Graph neural networks",
            "We train graph neural networks on molecules.",
        );
        let b = doc(
            "Molecules",
            "Message passing graph neural networks for molecules and the like.",
        );
        let shared = shared_terms(&a, &b, 10);
        assert!(shared.contains(&"graph neural".to_string()), "{shared:?}");
        assert!(shared.contains(&"molecules".to_string()), "{shared:?}");
        assert!(
            !shared.contains(&"graph".to_string()),
            "a word gives way to its pair: {shared:?}"
        );
        assert!(
            !shared
                .iter()
                .any(|t| t == "we" || t == "the" || t == "train"),
            "{shared:?}"
        );
        assert!(shared_terms(&a, &doc("Other", "Nothing in common here."), 10).is_empty());
        assert_eq!(shared_terms(&a, &b, 1).len(), 1);
    }

    fn doc(title: &str, text: &str) -> TopicDoc {
        TopicDoc {
            id: "x".into(),
            title: title.into(),
            text: text.into(),
        }
    }

    fn texts(d: &TopicDoc) -> Vec<String> {
        let mut out = Vec::new();
        for_each_term(d, true, &mut |_, t| out.push(t.to_string()));
        out
    }

    #[test]
    fn words_are_lowercased_and_stopwords_latex_numbers_and_prefixes_dropped() {
        let d = doc(
            "The Black Holes",
            "of $\\alpha$ 2007 and multi-modal 3D non linear Binary_EN",
        );
        assert_eq!(
            texts(&d),
            [
                "black",
                "holes",
                "black holes",
                "multi-modal",
                "3d",
                "multi-modal 3d",
                "linear",
                "binary_en",
                "linear binary_en"
            ]
        );
    }

    #[test]
    fn bigrams_never_span_punctuation_stopwords_or_the_title_break() {
        let d = doc("Gamma ray", "bursts, neutron stars of galaxies");
        let pairs: Vec<String> = texts(&d).into_iter().filter(|t| t.contains(' ')).collect();
        assert_eq!(pairs, ["gamma ray", "neutron stars"]);
    }

    #[test]
    fn hashes_are_stable_and_texts_recoverable() {
        let d = doc("Spin glasses", "spin glass dynamics");
        let mut hashes = Vec::new();
        for_each_term(&d, true, &mut |h, t| hashes.push((h, t.to_string())));
        let glass = hashes.iter().find(|(_, t)| t == "spin glass").unwrap().0;
        assert_eq!(glass, hash_pair(hash_word("spin"), hash_word("glass")));
        assert_eq!(term_text(&d, true, glass).as_deref(), Some("spin glass"));
        assert_eq!(term_text(&d, true, 12345), None);
    }
}
