//! Topic keywords by class-based TF-IDF (c-TF-IDF, as BERTopic defines it) and labels from them.
//!
//! All documents of a topic form one class. For term `t` and class `c`:
//! `w(t, c) = tf(t, c) / |c| · ln(1 + A / f(t))`, where `tf` counts `t` in the class, `|c|` is the
//! number of terms in the class, `A` the average number of terms per class and `f(t)` the count
//! of `t` over all classes (BERTopic's `ClassTfidfTransformer` with its defaults).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::stopwords::is_stopword;

/// How keywords are extracted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeywordConfig {
    /// Keywords kept per topic.
    pub top_n: usize,
    /// A term must occur in at least this many documents (drops typos and one-off symbols).
    pub min_df: usize,
    /// Also count bigrams of adjacent non-stopword tokens ("black hole").
    pub bigrams: bool,
    /// Keywords joined into a topic's label.
    pub label_terms: usize,
}

impl Default for KeywordConfig {
    fn default() -> Self {
        KeywordConfig {
            top_n: 10,
            min_df: 2,
            bigrams: true,
            label_terms: 3,
        }
    }
}

/// A keyword and its c-TF-IDF weight in its topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Keyword {
    /// The term: a lowercase word or two words joined by a space.
    pub term: String,
    /// c-TF-IDF weight (higher is more specific to the topic).
    pub weight: f32,
}

/// Lowercase word tokens of `text`: runs of letters and digits holding at least one letter and
/// at least two characters, stopwords and LaTeX commands (`\alpha`) dropped. A stopword or
/// punctuation between two words is kept as a `None` gap, so bigrams never span it.
pub(crate) fn tokens(text: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut command = false;
    let flush = |word: &mut String, command: bool, gap: bool, out: &mut Vec<Option<String>>| {
        if !word.is_empty() {
            let keep = !command
                && word.chars().count() >= 2
                && word.chars().any(char::is_alphabetic)
                && !is_stopword(word);
            out.push(keep.then(|| word.clone()));
            word.clear();
        }
        if gap && out.last().is_some_and(Option::is_some) {
            out.push(None);
        }
    };
    for ch in text.chars() {
        if ch.is_alphanumeric() {
            word.extend(ch.to_lowercase());
        } else {
            let was_command = command;
            command = ch == '\\';
            flush(&mut word, was_command, !ch.is_whitespace(), &mut out);
        }
    }
    flush(&mut word, command, false, &mut out);
    out
}

/// Distinct terms (unigrams, and bigrams when asked) of one document.
fn terms(text: &str, bigrams: bool) -> Vec<String> {
    let toks = tokens(text);
    let mut out: Vec<String> = toks.iter().flatten().cloned().collect();
    if bigrams {
        for pair in toks.windows(2) {
            if let [Some(a), Some(b)] = pair {
                out.push(format!("{a} {b}"));
            }
        }
    }
    out
}

/// Keywords of each of `k` topics from the documents' texts and their topic labels.
pub(crate) fn c_tf_idf(
    texts: &[String],
    labels: &[usize],
    k: usize,
    config: &KeywordConfig,
) -> Vec<Vec<Keyword>> {
    let per_doc: Vec<Vec<String>> = texts.iter().map(|t| terms(t, config.bigrams)).collect();
    let mut doc_freq: HashMap<&str, usize> = HashMap::new();
    for doc in &per_doc {
        let mut seen: Vec<&str> = doc.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            *doc_freq.entry(t).or_default() += 1;
        }
    }
    let mut class_counts: Vec<HashMap<&str, usize>> = vec![HashMap::new(); k];
    for (doc, &c) in per_doc.iter().zip(labels) {
        for t in doc {
            if doc_freq[t.as_str()] >= config.min_df {
                *class_counts[c].entry(t.as_str()).or_default() += 1;
            }
        }
    }
    let mut term_freq: HashMap<&str, usize> = HashMap::new();
    let mut class_sizes = vec![0usize; k];
    for (c, counts) in class_counts.iter().enumerate() {
        for (&t, &n) in counts {
            *term_freq.entry(t).or_default() += n;
            class_sizes[c] += n;
        }
    }
    // BERTopic truncates the average to an integer; so do we, to match its weights.
    let avg = (class_sizes.iter().sum::<usize>() / k.max(1)) as f64;
    class_counts
        .iter()
        .zip(&class_sizes)
        .map(|(counts, &size)| {
            let mut scored: Vec<Keyword> = counts
                .iter()
                .map(|(&t, &n)| Keyword {
                    term: t.to_string(),
                    weight: (n as f64 / size as f64 * (avg / term_freq[t] as f64).ln_1p()) as f32,
                })
                .collect();
            scored.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.term.cmp(&b.term)));
            scored.truncate(config.top_n);
            scored
        })
        .collect()
}

/// A label from the top keywords: the first `terms` keywords that add a new word (a unigram
/// already inside a chosen bigram, or a bigram made of chosen words, is skipped).
pub(crate) fn label(keywords: &[Keyword], terms: usize) -> String {
    let mut chosen: Vec<&str> = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    for kw in keywords {
        if chosen.len() == terms {
            break;
        }
        let parts: Vec<&str> = kw.term.split(' ').collect();
        if parts.iter().all(|p| words.contains(p)) {
            continue;
        }
        // A bigram subsumes a unigram chosen before it.
        if parts.len() > 1 {
            chosen.retain(|c| !parts.contains(c));
        }
        chosen.push(&kw.term);
        words.extend(parts);
    }
    chosen.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_lowercase_drop_stopwords_latex_and_numbers_and_mark_gaps() {
        let t = tokens("The Black Holes, of $\\alpha$ 2007 and 3D-Gravity");
        let words: Vec<&str> = t.iter().flatten().map(String::as_str).collect();
        assert_eq!(words, ["black", "holes", "3d", "gravity"]);
        let pairs: Vec<String> = terms("The Black Holes, of black holes", true)
            .into_iter()
            .filter(|t| t.contains(' '))
            .collect();
        assert_eq!(pairs, ["black holes", "black holes"]);
        // A comma breaks the phrase.
        assert!(!terms("holes, gravity", true).contains(&"holes gravity".to_string()));
    }

    #[test]
    fn c_tf_idf_ranks_class_specific_terms_first_and_matches_the_formula() {
        let texts: Vec<String> = [
            "galaxy cluster galaxy survey",
            "galaxy redshift survey",
            "quantum spin chain",
            "quantum entanglement spin",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let config = KeywordConfig {
            top_n: 3,
            min_df: 1,
            bigrams: false,
            label_terms: 2,
        };
        let kw = c_tf_idf(&texts, &[0, 0, 1, 1], 2, &config);
        assert_eq!(kw[0][0].term, "galaxy");
        assert_eq!(kw[1][0].term, "quantum");
        // Class 0 has 7 terms, class 1 has 6: A = 13 / 2 = 6 (integer). galaxy: tf 3, f 3.
        let want = 3.0 / 7.0 * (1.0f64 + 6.0 / 3.0).ln();
        assert!((kw[0][0].weight as f64 - want).abs() < 1e-6);
    }

    #[test]
    fn min_df_drops_rare_terms() {
        let texts: Vec<String> = ["alpha beta", "alpha gamma"].map(String::from).to_vec();
        let config = KeywordConfig {
            min_df: 2,
            bigrams: false,
            ..KeywordConfig::default()
        };
        let kw = c_tf_idf(&texts, &[0, 0], 1, &config);
        let terms: Vec<&str> = kw[0].iter().map(|k| k.term.as_str()).collect();
        assert_eq!(terms, ["alpha"]);
    }

    #[test]
    fn label_skips_words_already_covered() {
        let kw = |t: &str| Keyword {
            term: t.into(),
            weight: 1.0,
        };
        let keywords = [
            kw("black"),
            kw("black holes"),
            kw("holes"),
            kw("accretion"),
            kw("disk"),
        ];
        assert_eq!(label(&keywords, 2), "black holes, accretion");
    }
}
