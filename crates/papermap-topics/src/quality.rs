//! Topic quality in the numbers topic-model papers report: NPMI coherence of each topic's keywords
//! (gensim's `c_npmi`), topic diversity, and agreement with labels or with another fit (NMI,
//! V-measure, ARI). Everything is linear in the corpus: the coherence counts run in one parallel
//! pass over the texts, the agreement measures on a contingency table of the two labelings.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::terms::{for_each_term, hash_pair, hash_word, PassThrough, TermHash};
use crate::TopicDoc;

/// Width of the sliding window of [`npmi`]: gensim's default for `c_npmi`.
pub const NPMI_WINDOW: usize = 10;

/// gensim's `EPSILON`, added to the joint probability so that pairs never seen together score −1.
const EPSILON: f64 = 1e-12;

/// Documents per unit of parallel counting.
const CHUNK_DOCS: usize = 1024;

/// NPMI coherence of each topic's terms over `docs`, as gensim's `CoherenceModel(coherence="c_npmi")`
/// computes it, on the keywords' tokenisation.
///
/// Each document (title, then abstract) becomes its stream of kept words (stopwords, LaTeX and
/// bare prefixes dropped, as for keywords); two adjacent words that form a bigram term of some
/// topic are merged into one token, left to right, as a phrase model would join them. Windows
/// of [`NPMI_WINDOW`] tokens slide one token at a time (a shorter document is one window, as in
/// gensim, also one holding none of the terms). For terms `a`, `b` of a
/// topic, `p(a)` is the share of windows holding `a`, `p(a, b)` of windows holding both, and
/// `NPMI = ln((p(a, b) + ε) / (p(a) p(b))) / −ln(p(a, b) + ε)`; a topic's coherence is the mean
/// over its term pairs. gensim's window bookkeeping is followed exactly, including that a token
/// leaving the window unmarks its term even when it occurs again inside the window, so the
/// numbers are comparable with published gensim figures.
///
/// Terms that never occur in `docs` are left out of their topic, as gensim leaves out terms
/// missing from its dictionary; a topic with fewer than two terms left scores `NaN`.
pub fn npmi(docs: &[TopicDoc], topics: &[Vec<String>]) -> Vec<f64> {
    let mut slot: HashMap<TermHash, u32, std::hash::BuildHasherDefault<PassThrough>> =
        HashMap::default();
    let mut bigrams: HashMap<TermHash, u32, std::hash::BuildHasherDefault<PassThrough>> =
        HashMap::default();
    let topic_slots: Vec<Vec<u32>> = topics
        .iter()
        .map(|terms| {
            terms
                .iter()
                .map(|term| {
                    let h = term_hash(term);
                    let next = slot.len() as u32;
                    let s = *slot.entry(h).or_insert(next);
                    if term.contains(' ') {
                        bigrams.insert(h, s);
                    }
                    s
                })
                .collect()
        })
        .collect();
    let relevant = slot.len();
    let counts = docs
        .par_chunks(CHUNK_DOCS)
        .map(|chunk| {
            let mut counts = WindowCounts::new(relevant);
            let mut tokens: Vec<Option<u32>> = Vec::new();
            for doc in chunk {
                tokens.clear();
                tokenise(doc, &slot, &bigrams, &mut tokens);
                counts.add_document(&tokens);
            }
            counts
        })
        .reduce(|| WindowCounts::new(relevant), WindowCounts::merge);
    topic_slots
        .iter()
        .map(|terms| counts.coherence(terms))
        .collect()
}

/// The hash a keyword term has in the token stream: a word's, or a bigram's from its two words.
fn term_hash(term: &str) -> TermHash {
    match term.split_once(' ') {
        Some((a, b)) => hash_pair(hash_word(a), hash_word(b)),
        None => hash_word(term),
    }
}

/// The document as tokens: `Some(slot)` for a topic term, `None` for any other kept word.
fn tokenise(
    doc: &TopicDoc,
    slot: &HashMap<TermHash, u32, std::hash::BuildHasherDefault<PassThrough>>,
    bigrams: &HashMap<TermHash, u32, std::hash::BuildHasherDefault<PassThrough>>,
    tokens: &mut Vec<Option<u32>>,
) {
    // Whether the token before the last one, and the last one, are plain words (a bigram
    // absorbs its first word only if no earlier bigram took it).
    let (mut before_plain, mut last_plain) = (false, false);
    for_each_term(doc, !bigrams.is_empty(), &mut |h, text| {
        if !text.contains(' ') {
            before_plain = last_plain;
            tokens.push(slot.get(&h).copied());
            last_plain = true;
        } else if let Some(&s) = bigrams.get(&h) {
            // The pair of the last two words pushed.
            if before_plain && last_plain {
                tokens.pop();
                *tokens.last_mut().expect("the pair's first word") = Some(s);
                last_plain = false;
            }
        }
    });
}

/// Window and co-occurrence counts of the relevant terms.
struct WindowCounts {
    relevant: usize,
    windows: u64,
    occurrences: Vec<u64>,
    /// Upper triangle, `pairs[a * relevant + b]` for `a < b`.
    pairs: Vec<u64>,
    /// Scratch: which relevant terms the current window marks.
    marked: Vec<bool>,
    present: Vec<u32>,
}

impl WindowCounts {
    fn new(relevant: usize) -> WindowCounts {
        WindowCounts {
            relevant,
            windows: 0,
            occurrences: vec![0; relevant],
            pairs: vec![0; relevant * relevant],
            marked: vec![false; relevant],
            present: Vec::new(),
        }
    }

    fn merge(mut self, other: WindowCounts) -> WindowCounts {
        self.windows += other.windows;
        self.occurrences
            .iter_mut()
            .zip(&other.occurrences)
            .for_each(|(a, b)| *a += b);
        self.pairs
            .iter_mut()
            .zip(&other.pairs)
            .for_each(|(a, b)| *a += b);
        self
    }

    /// Slides the window over one document as gensim's `WordOccurrenceAccumulator` does.
    fn add_document(&mut self, tokens: &[Option<u32>]) {
        self.marked.iter_mut().for_each(|m| *m = false);
        let first = &tokens[..tokens.len().min(NPMI_WINDOW)];
        for s in first.iter().flatten() {
            self.marked[*s as usize] = true;
        }
        self.count_window();
        for end in NPMI_WINDOW..tokens.len() {
            // gensim unmarks the token leaving the window, then marks the one entering it.
            if let Some(s) = tokens[end - NPMI_WINDOW] {
                self.marked[s as usize] = false;
            }
            if let Some(s) = tokens[end] {
                self.marked[s as usize] = true;
            }
            self.count_window();
        }
    }

    fn count_window(&mut self) {
        self.windows += 1;
        self.present.clear();
        self.present.extend(
            self.marked
                .iter()
                .enumerate()
                .filter(|(_, &m)| m)
                .map(|(s, _)| s as u32),
        );
        for (i, &a) in self.present.iter().enumerate() {
            self.occurrences[a as usize] += 1;
            for &b in &self.present[i + 1..] {
                self.pairs[a as usize * self.relevant + b as usize] += 1;
            }
        }
    }

    /// Mean NPMI over the ordered pairs of distinct terms of one topic.
    fn coherence(&self, terms: &[u32]) -> f64 {
        // gensim drops a topic's terms that are not in the corpus' dictionary.
        let terms: Vec<u32> = terms
            .iter()
            .copied()
            .filter(|&t| self.occurrences[t as usize] > 0)
            .collect();
        let n = self.windows as f64;
        let mut sum = 0.0;
        let mut count = 0usize;
        for (i, &a) in terms.iter().enumerate() {
            for (j, &b) in terms.iter().enumerate() {
                if i == j {
                    continue;
                }
                let (lo, hi) = (a.min(b) as usize, a.max(b) as usize);
                let joint = if lo == hi {
                    self.occurrences[lo]
                } else {
                    self.pairs[lo * self.relevant + hi]
                } as f64
                    / n;
                let pa = self.occurrences[a as usize] as f64 / n;
                let pb = self.occurrences[b as usize] as f64 / n;
                let pmi = ((joint + EPSILON) / (pa * pb)).ln();
                sum += pmi / -(joint + EPSILON).ln();
                count += 1;
            }
        }
        if count == 0 || n == 0.0 {
            f64::NAN
        } else {
            sum / count as f64
        }
    }
}

/// Topic diversity: the share of distinct terms among the first `top` terms of every topic
/// (1 when no two topics share a term). The denominator is `top × topics`, so a topic with fewer
/// than `top` terms counts against it.
pub fn diversity(topics: &[Vec<String>], top: usize) -> f64 {
    if topics.is_empty() || top == 0 {
        return f64::NAN;
    }
    let mut distinct: Vec<&str> = topics
        .iter()
        .flat_map(|t| t.iter().take(top).map(String::as_str))
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    distinct.len() as f64 / (top * topics.len()) as f64
}

/// Agreement of two labelings of the same items.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Agreement {
    /// Normalised mutual information, arithmetic-mean normalisation (scikit-learn's default).
    pub nmi: f64,
    /// Homogeneity: each cluster holds one class (1 = pure clusters).
    pub homogeneity: f64,
    /// Completeness: each class sits in one cluster.
    pub completeness: f64,
    /// V-measure: harmonic mean of homogeneity and completeness (equal to `nmi` by definition).
    pub v_measure: f64,
    /// Adjusted Rand index (0 = chance, 1 = identical partitions).
    pub ari: f64,
}

/// NMI, homogeneity, completeness, V-measure and ARI of `clusters` against `classes` (any
/// hashable labels, one per item), as scikit-learn's `metrics` define them.
pub fn agreement<A: Eq + std::hash::Hash, B: Eq + std::hash::Hash>(
    classes: &[A],
    clusters: &[B],
) -> Agreement {
    assert_eq!(classes.len(), clusters.len(), "one label per item in both");
    fn index<L: Eq + std::hash::Hash>(labels: &[L]) -> (Vec<usize>, usize) {
        let mut ids = HashMap::new();
        let coded = labels
            .iter()
            .map(|l| {
                let next = ids.len();
                *ids.entry(l).or_insert(next)
            })
            .collect();
        (coded, ids.len())
    }
    let (c, nc) = index(classes);
    let (k, nk) = index(clusters);
    let mut table: HashMap<(usize, usize), u64> = HashMap::new();
    let (mut a, mut b) = (vec![0u64; nc], vec![0u64; nk]);
    for (&ci, &ki) in c.iter().zip(&k) {
        *table.entry((ci, ki)).or_default() += 1;
        a[ci] += 1;
        b[ki] += 1;
    }
    let n = c.len() as f64;
    let entropy = |counts: &[u64]| -> f64 {
        counts
            .iter()
            .filter(|&&x| x > 0)
            .map(|&x| {
                let p = x as f64 / n;
                -p * p.ln()
            })
            .sum()
    };
    let (hc, hk) = (entropy(&a), entropy(&b));
    let mi: f64 = table
        .iter()
        .map(|(&(ci, ki), &nij)| {
            let nij = nij as f64;
            nij / n * (n * nij / (a[ci] as f64 * b[ki] as f64)).ln()
        })
        .sum();
    let ratio = |num: f64, den: f64| if den == 0.0 { 1.0 } else { num / den };
    let homogeneity = ratio(mi, hc);
    let completeness = ratio(mi, hk);
    let v_measure = if homogeneity + completeness == 0.0 {
        0.0
    } else {
        2.0 * homogeneity * completeness / (homogeneity + completeness)
    };
    let nmi = if hc == 0.0 && hk == 0.0 {
        1.0
    } else {
        mi / ((hc + hk) / 2.0)
    };
    let pairs = |x: f64| x * (x - 1.0) / 2.0;
    let index_sum: f64 = table.values().map(|&x| pairs(x as f64)).sum();
    let sum_a: f64 = a.iter().map(|&x| pairs(x as f64)).sum();
    let sum_b: f64 = b.iter().map(|&x| pairs(x as f64)).sum();
    let expected = sum_a * sum_b / pairs(n);
    let max = (sum_a + sum_b) / 2.0;
    let ari = if max == expected {
        1.0
    } else {
        (index_sum - expected) / (max - expected)
    };
    Agreement {
        nmi,
        homogeneity,
        completeness,
        v_measure,
        ari,
    }
}

/// Keywords of each of `k` classes (`labels[i]` is `docs[i]`'s class), extracted as a topic
/// model's are (c-TF-IDF, variants merged) but with `config.top_n` of them: the top-25
/// lists of a topic diversity score, for a model that keeps 10.
pub fn class_keywords(
    docs: &[TopicDoc],
    labels: &[usize],
    k: usize,
    config: &crate::KeywordConfig,
) -> Vec<Vec<crate::Keyword>> {
    crate::keywords::Vocabulary::count(docs, config)
        .keywords(docs, labels, k, config)
        .into_iter()
        .map(|class| class.keywords)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(texts: &[&str]) -> Vec<TopicDoc> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| TopicDoc {
                id: format!("d{i}"),
                title: String::new(),
                text: t.to_string(),
            })
            .collect()
    }

    fn terms(t: &[&[&str]]) -> Vec<Vec<String>> {
        t.iter()
            .map(|ws| ws.iter().map(|w| w.to_string()).collect())
            .collect()
    }

    fn npmi_of(joint: f64, pa: f64, pb: f64) -> f64 {
        ((joint + EPSILON) / (pa * pb)).ln() / -(joint + EPSILON).ln()
    }

    #[test]
    fn npmi_matches_the_formula_on_short_documents() {
        // Each document is shorter than the window: one window each, 3 windows.
        let d = docs(&["galaxy quasar", "galaxy lensing", "quasar lensing galaxy"]);
        let got = npmi(&d, &terms(&[&["galaxy", "quasar"], &["quasar", "lensing"]]));
        // galaxy in 3/3 windows, quasar 2/3, both 2/3.
        let want0 = npmi_of(2.0 / 3.0, 1.0, 2.0 / 3.0);
        // quasar 2/3, lensing 2/3, both 1/3.
        let want1 = npmi_of(1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0);
        assert!((got[0] - want0).abs() < 1e-12, "{got:?}");
        assert!((got[1] - want1).abs() < 1e-12, "{got:?}");
        // Always together: 0; together less often than chance: negative.
        assert!(got[1] < 0.0 && got[0].abs() < 1e-9);
    }

    #[test]
    fn words_never_seen_together_score_minus_one_and_every_document_counts() {
        let d = docs(&["galaxy", "quasar", "spin chain", "spin chain"]);
        let got = npmi(&d, &terms(&[&["galaxy", "quasar"]]));
        // Four windows (documents without a term count too, as in gensim), never both together.
        let want = npmi_of(0.0, 0.25, 0.25);
        assert!((got[0] - want).abs() < 1e-12 && got[0] < -0.85, "{got:?}");
    }

    #[test]
    fn windows_slide_one_token_at_a_time() {
        // 12 kept words: windows start at 0, 1 and 2. "quark" is only in window 0, "gluon" only in 2.
        let d = docs(&["quark xa xb xc xd xe xf xg xh xi xj gluon"]);
        let got = npmi(&d, &terms(&[&["quark", "gluon"], &["quark", "xe"]]));
        assert!((got[0] - npmi_of(0.0, 1.0 / 3.0, 1.0 / 3.0)).abs() < 1e-12);
        assert!((got[1] - npmi_of(1.0 / 3.0, 1.0 / 3.0, 1.0)).abs() < 1e-12);
    }

    #[test]
    fn a_bigram_term_is_one_token_and_hides_its_words() {
        // "black hole" merges into one token; the bare "black" of the last document stays a word.
        let d = docs(&["black hole merger", "black hole spin", "black cat merger"]);
        let got = npmi(
            &d,
            &terms(&[&["black hole", "merger"], &["black", "merger"]]),
        );
        // Windows: 3. "black hole": 2, merger: 2, both: 1. "black" alone: 1 (only the last).
        assert!((got[0] - npmi_of(1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0)).abs() < 1e-12);
        assert!((got[1] - npmi_of(1.0 / 3.0, 1.0 / 3.0, 2.0 / 3.0)).abs() < 1e-12);
    }

    #[test]
    fn a_topic_with_one_term_has_no_coherence() {
        let d = docs(&["galaxy quasar"]);
        assert!(npmi(&d, &terms(&[&["galaxy"]]))[0].is_nan());
    }

    #[test]
    fn diversity_counts_distinct_terms_over_top_times_topics() {
        let t = terms(&[&["a", "b", "c"], &["a", "d", "e"]]);
        assert!((diversity(&t, 3) - 5.0 / 6.0).abs() < 1e-12);
        assert!((diversity(&t, 1) - 0.5).abs() < 1e-12);
        // A topic shorter than `top` counts against it.
        assert!((diversity(&terms(&[&["a"], &["b"]]), 2) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn agreement_is_one_for_equal_partitions_and_known_for_crossed_ones() {
        let same = agreement(&["x", "x", "y", "y"], &[5, 5, 7, 7]);
        assert!((same.nmi - 1.0).abs() < 1e-12 && (same.ari - 1.0).abs() < 1e-12);
        let crossed = agreement(&[0, 0, 1, 1], &[0, 1, 0, 1]);
        assert!(crossed.nmi.abs() < 1e-12);
        // scikit-learn: adjusted_rand_score([0,0,1,1],[0,1,0,1]) == -0.5.
        assert!((crossed.ari + 0.5).abs() < 1e-12);
        // scikit-learn: normalized_mutual_info_score([0,0,0,1,1,1],[0,0,1,1,2,2]) = 0.5158037429793889,
        // homogeneity 0.6666666666666669, completeness 0.420619835714305.
        let partial = agreement(&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 2, 2]);
        assert!((partial.nmi - 0.515_803_742_979_388_9).abs() < 1e-9);
        assert!((partial.homogeneity - 2.0 / 3.0).abs() < 1e-9);
        assert!((partial.completeness - 0.420_619_835_714_305).abs() < 1e-9);
        assert!((partial.v_measure - partial.nmi).abs() < 1e-12);
    }
}
