//! Topic keywords by class-based TF-IDF (c-TF-IDF, as BERTopic defines it).
//!
//! All documents of a topic form one class. For term `t` and class `c`:
//! `w(t, c) = tf(t, c) / |c| · ln(1 + A / f(t))`, where `tf` counts `t` in the class, `|c|` is the
//! number of terms in the class, `A` the average number of terms per class and `f(t)` the count
//! of `t` over all classes (BERTopic's `ClassTfidfTransformer` with its defaults).
//!
//! Counting runs on all cores over term hashes ([`crate::terms`]): one pass for document
//! frequencies and totals ([`Vocabulary`]), one per class for its counts, and a last look at a
//! sample of each class's documents for the candidates' texts and the documents holding them,
//! which [`crate::labels`] uses to let a word give way to a bigram holding it (and, when asked,
//! for MMR).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::labels::{self, Candidate};
use crate::terms::{for_each_term, term_text, TermHash, TermMap};
use crate::TopicDoc;

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
    /// Maximal marginal relevance over the keywords (0 = c-TF-IDF order alone, as BERTopic's
    /// default; BERTopic's `MaximalMarginalRelevance` uses 0.1-0.3): how much a keyword that
    /// co-occurs with one already chosen is pushed down. Off by default: on the labelled arXiv
    /// abstracts 0.3 halved the keywords' NPMI coherence (`papermap eval topics`' own scorer:
    /// 0.045 -> 0.022; gensim on the BERTopic script's tokenisation: 0.040 -> 0.019) for +0.025
    /// diversity of the top 10. Must be within 0..=1.
    #[serde(default = "legacy_mmr_diversity")]
    pub mmr_diversity: f32,
}

/// The diversity of topics saved before it was a setting (they were fitted with 0.3).
fn legacy_mmr_diversity() -> f32 {
    0.3
}

impl Default for KeywordConfig {
    fn default() -> Self {
        KeywordConfig {
            top_n: 10,
            min_df: 2,
            bigrams: true,
            label_terms: 3,
            mmr_diversity: 0.0,
        }
    }
}

/// A class's keywords and the label made of them.
pub(crate) struct ClassKeywords {
    /// Best first, by c-TF-IDF weight.
    pub keywords: Vec<Keyword>,
    /// The first [`KeywordConfig::label_terms`] keywords by relevance ([`RELEVANCE_LAMBDA`]).
    pub label: String,
}

/// λ of the relevance that orders a class's keywords for its label: `λ ln p(t|c) + (1 - λ)
/// ln(p(t|c) / p(t))` (Sievert and Shirley 2014, LDAvis; their user study found 0.6 best). The
/// c-TF-IDF weight ranks "model" and "energy" high in most physics classes; relevance weighs in
/// how much more often a term occurs in the class than in the corpus, so a label names what sets
/// the class apart ("higgs, quark, qcd", not "model, decay, energy").
pub(crate) const RELEVANCE_LAMBDA: f64 = 0.6;

/// A keyword and its c-TF-IDF weight in its topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Keyword {
    /// The term: a lowercase word or two words joined by a space.
    pub term: String,
    /// c-TF-IDF weight (higher is more specific to the topic).
    pub weight: f32,
}

/// Highest-weighted terms of a class looked at for the final keywords.
const CANDIDATES: usize = 40;
/// Documents of a class read for candidate co-occurrences (a seeded-order sample: the first ones).
const COOCCURRENCE_DOCS: usize = 2000;
/// Documents per unit of parallel counting.
const CHUNK_DOCS: usize = 2048;

/// Document frequency and total count of every term of a corpus.
pub(crate) struct Vocabulary {
    /// term -> (documents containing it, occurrences).
    counts: TermMap<(u32, u32)>,
    min_df: u32,
    bigrams: bool,
    /// Occurrences of the terms that pass `min_df`, over all documents.
    kept_total: u64,
}

impl Vocabulary {
    /// Counts the terms of `docs` on all cores.
    pub fn count(docs: &[TopicDoc], config: &KeywordConfig) -> Vocabulary {
        let counts = docs
            .par_chunks(CHUNK_DOCS)
            .map(|chunk| {
                let mut counts: TermMap<(u32, u32)> = TermMap::default();
                let mut seen: Vec<TermHash> = Vec::new();
                for doc in chunk {
                    seen.clear();
                    for_each_term(doc, config.bigrams, &mut |h, _| seen.push(h));
                    for &h in &seen {
                        counts.entry(h).or_default().1 += 1;
                    }
                    seen.sort_unstable();
                    seen.dedup();
                    for &h in &seen {
                        counts.entry(h).or_default().0 += 1;
                    }
                }
                counts
            })
            .reduce(TermMap::default, |a, b| {
                // Fold the smaller map into the larger one.
                let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
                for (h, (df, tf)) in small {
                    let e = big.entry(h).or_default();
                    e.0 += df;
                    e.1 += tf;
                }
                big
            });
        let min_df = config.min_df.min(u32::MAX as usize) as u32;
        let kept_total = counts
            .values()
            .filter(|(df, _)| *df >= min_df)
            .map(|&(_, tf)| tf as u64)
            .sum();
        Vocabulary {
            counts,
            min_df,
            bigrams: config.bigrams,
            kept_total,
        }
    }

    fn total_of(&self, h: TermHash) -> Option<u32> {
        self.counts
            .get(&h)
            .filter(|(df, _)| *df >= self.min_df)
            .map(|&(_, tf)| tf)
    }

    /// Keywords of each of `k` classes (`labels[i]` is document i's class), word variants
    /// merged, best first (MMR-diverse when [`KeywordConfig::mmr_diversity`] asks), and labels.
    pub fn keywords(
        &self,
        docs: &[TopicDoc],
        labels: &[usize],
        k: usize,
        config: &KeywordConfig,
    ) -> Vec<ClassKeywords> {
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); k];
        for (i, &c) in labels.iter().enumerate() {
            members[c].push(i as u32);
        }
        // BERTopic truncates the average to an integer; so do we, to match its weights.
        let avg = (self.kept_total / k.max(1) as u64) as f64;
        members
            .par_iter()
            .map(|rows| {
                let candidates = self.candidates(docs, rows, avg);
                let chosen = labels::choose(candidates, config.top_n, config.mmr_diversity);
                labels::describe(chosen, config.label_terms)
            })
            .collect()
    }

    /// The class's best terms by c-TF-IDF, with their texts and which sampled documents hold them.
    fn candidates(&self, docs: &[TopicDoc], rows: &[u32], avg: f64) -> Vec<Candidate> {
        // term -> (occurrences in the class, first document holding it).
        let mut counts: TermMap<(u32, u32)> = TermMap::default();
        let mut size = 0u64;
        for &row in rows {
            for_each_term(&docs[row as usize], self.bigrams, &mut |h, _| {
                if self.total_of(h).is_some() {
                    counts.entry(h).or_insert((0, row)).0 += 1;
                    size += 1;
                }
            });
        }
        let corpus = self.kept_total.max(1) as f64;
        let mut scored: Vec<(f32, TermHash, u32, f32)> = counts
            .iter()
            .map(|(&h, &(n, first))| {
                let total = self.total_of(h).expect("kept above") as f64;
                let in_class = n as f64 / size.max(1) as f64;
                let w = in_class * (avg / total).ln_1p();
                let relevance = RELEVANCE_LAMBDA * in_class.ln()
                    + (1.0 - RELEVANCE_LAMBDA) * (in_class * corpus / total).ln();
                (w as f32, h, first, relevance as f32)
            })
            .collect();
        drop(counts);
        let cmp = |a: &(f32, TermHash, u32, f32), b: &(f32, TermHash, u32, f32)| {
            b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
        };
        if scored.len() > CANDIDATES {
            scored.select_nth_unstable_by(CANDIDATES, cmp);
            scored.truncate(CANDIDATES);
        }
        scored.sort_by(cmp);
        let sample = &rows[..rows.len().min(COOCCURRENCE_DOCS)];
        let slot: TermMap<usize> = scored.iter().enumerate().map(|(c, s)| (s.1, c)).collect();
        let mut present: Vec<Vec<u32>> = vec![Vec::new(); scored.len()];
        for (d, &row) in sample.iter().enumerate() {
            for_each_term(&docs[row as usize], self.bigrams, &mut |h, _| {
                if let Some(&c) = slot.get(&h) {
                    if present[c].last() != Some(&(d as u32)) {
                        present[c].push(d as u32);
                    }
                }
            });
        }
        scored
            .into_iter()
            .zip(present)
            .filter_map(|((weight, h, first, relevance), docs_with)| {
                let term = term_text(&docs[first as usize], self.bigrams, h)?;
                Some(Candidate {
                    term,
                    weight,
                    relevance,
                    docs: docs_with,
                })
            })
            .collect()
    }
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

    #[test]
    fn c_tf_idf_ranks_class_specific_terms_first_and_matches_the_formula() {
        let d = docs(&[
            "galaxy cluster galaxy survey",
            "galaxy redshift survey",
            "quantum spin chain",
            "quantum entanglement spin",
        ]);
        let config = KeywordConfig {
            top_n: 3,
            min_df: 1,
            bigrams: false,
            label_terms: 2,
            mmr_diversity: 0.0,
        };
        let vocab = Vocabulary::count(&d, &config);
        let kw = vocab.keywords(&d, &[0, 0, 1, 1], 2, &config);
        assert_eq!(kw[0].keywords[0].term, "galaxy");
        assert_eq!(kw[1].keywords[0].term, "quantum");
        // Class 0 has 7 terms, class 1 has 6: A = 13 / 2 = 6 (integer). galaxy: tf 3, f 3.
        let want = 3.0 / 7.0 * (1.0f64 + 6.0 / 3.0).ln();
        assert!((kw[0].keywords[0].weight as f64 - want).abs() < 1e-6);
        // Relevance: p(galaxy | class 0) = 3/7, p(galaxy) = 3/13.
        let candidates = vocab.candidates(&d, &[0, 1], 6.0);
        let galaxy = candidates.iter().find(|c| c.term == "galaxy").unwrap();
        let p = 3.0 / 7.0f64;
        let want = RELEVANCE_LAMBDA * p.ln() + (1.0 - RELEVANCE_LAMBDA) * (p / (3.0 / 13.0)).ln();
        assert!((galaxy.relevance as f64 - want).abs() < 1e-6);
    }

    #[test]
    fn min_df_drops_rare_terms() {
        let d = docs(&["alpha beta", "alpha gamma"]);
        let config = KeywordConfig {
            min_df: 2,
            bigrams: false,
            ..KeywordConfig::default()
        };
        let kw = Vocabulary::count(&d, &config).keywords(&d, &[0, 0], 1, &config);
        let terms: Vec<&str> = kw[0].keywords.iter().map(|k| k.term.as_str()).collect();
        assert_eq!(terms, ["alpha"]);
    }

    #[test]
    fn counts_do_not_depend_on_how_documents_are_split_across_threads() {
        let many: Vec<String> = (0..5000)
            .map(|i| format!("term{} shared word{}", i % 7, i % 13))
            .collect();
        let d = docs(&many.iter().map(String::as_str).collect::<Vec<_>>());
        let config = KeywordConfig::default();
        let vocab = Vocabulary::count(&d, &config);
        assert_eq!(
            vocab.counts[&crate::terms::hash_word("shared")],
            (5000, 5000)
        );
        assert_eq!(vocab.counts[&crate::terms::hash_word("term3")].0, 714);
    }
}
