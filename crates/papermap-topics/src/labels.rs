//! From a topic's best c-TF-IDF terms to keywords a person would write, and a label.
//!
//! Three rules, in order: variants of one word are one keyword ("graph" / "graphs",
//! "modal" / "multimodal", "emotion" / "emotional"); a word mostly seen inside a bigram that is
//! itself a candidate gives way to that bigram ("black" to "black hole", "ray" to "gamma ray");
//! the rest keep their c-TF-IDF order, or (when asked) are picked by maximal marginal relevance (as
//! BERTopic's MMR, with co-occurrence in the topic's documents instead of keyword embeddings).

use crate::keywords::{ClassKeywords, Keyword};

/// A term considered as a keyword of one topic.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub term: String,
    pub weight: f32,
    /// Relevance for the label ([`crate::keywords::RELEVANCE_LAMBDA`]).
    pub relevance: f32,
    /// Sampled documents of the topic holding the term (ascending indices into the sample).
    pub docs: Vec<u32>,
}

/// A word gives way to a bigram holding it when at least this share of its documents hold it.
const INSIDE_BIGRAM: f32 = 0.5;
/// Endings that make an inflected or derived form of the same word.
const SUFFIXES: &[&str] = &[
    "s", "es", "al", "ally", "ic", "ical", "ed", "ing", "ity", "ities", "ation", "ations", "er",
    "ers", "ly",
];
/// Beginnings that make a compound of the same word ("multimodal" of "modal").
const PREFIXES: &[&str] = &[
    "multi", "non", "sub", "super", "inter", "semi", "un", "pre", "post", "anti", "meta", "hyper",
    "cross", "co", "re",
];

/// Comparable form of a word: lowercase without hyphens, a plural "ies" read as "y".
fn key(word: &str) -> String {
    let w: String = word.chars().filter(|&c| c != '-').collect();
    match w.strip_suffix("ies") {
        Some(stem) if stem.len() >= 3 => format!("{stem}y"),
        _ => w,
    }
}

/// How two words relate: `None` when unrelated, `Some(true)` when `b` is `a` with a prefix
/// (the longer compound reads better), `Some(false)` for other variants.
fn variant(a: &str, b: &str) -> Option<bool> {
    let (ka, kb) = (key(a), key(b));
    if ka == kb {
        return Some(false);
    }
    let (short, long, b_longer) = if ka.len() <= kb.len() {
        (&ka, &kb, true)
    } else {
        (&kb, &ka, false)
    };
    if short.len() < 3 {
        return None;
    }
    if let Some(end) = long.strip_prefix(short.as_str()) {
        if SUFFIXES.contains(&end) {
            return Some(false);
        }
    }
    if let Some(start) = long.strip_suffix(short.as_str()) {
        if PREFIXES.contains(&start) {
            return Some(b_longer);
        }
    }
    None
}

/// Whether two terms (of one or two words each) are variants: same word count, every word a
/// variant of its counterpart. Returns whether `b` is the better-reading form.
fn term_variant(a: &str, b: &str) -> Option<bool> {
    let (wa, wb): (Vec<&str>, Vec<&str>) = (a.split(' ').collect(), b.split(' ').collect());
    if wa.len() != wb.len() {
        return None;
    }
    let mut b_better = false;
    for (x, y) in wa.iter().zip(&wb) {
        b_better |= variant(x, y)?;
    }
    Some(b_better)
}

/// Documents holding both terms over the geometric mean of each's count (0..=1).
fn cooccurrence(a: &[u32], b: &[u32]) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut both) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    both as f32 / ((a.len() * b.len()) as f32).sqrt()
}

fn merge_docs(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out: Vec<u32> = a.iter().chain(b).copied().collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The `top_n` keywords of a topic from its candidates (best c-TF-IDF weight first), MMR with
/// `diversity` (0 = none) pushing down a candidate by its co-occurrence with those chosen.
pub(crate) fn choose(candidates: Vec<Candidate>, top_n: usize, diversity: f32) -> Vec<Candidate> {
    // 1. One entry per word family, at the rank and weight of its best form.
    let mut merged: Vec<Candidate> = Vec::new();
    for c in candidates {
        match merged
            .iter_mut()
            .find_map(|m| term_variant(&m.term, &c.term).map(|b| (m, b)))
        {
            Some((m, c_reads_better)) => {
                m.docs = merge_docs(&m.docs, &c.docs);
                m.relevance = m.relevance.max(c.relevance);
                if c_reads_better {
                    m.term = c.term;
                }
            }
            None => merged.push(c),
        }
    }
    // 2. Words that mostly occur inside a candidate bigram give way to it.
    let bigrams: Vec<(String, Vec<u32>)> = merged
        .iter()
        .filter(|c| c.term.contains(' '))
        .map(|c| (c.term.clone(), c.docs.clone()))
        .collect();
    let mut kept: Vec<Candidate> = Vec::new();
    for c in merged {
        let inside = bigrams.iter().find(|(b, docs)| {
            !c.term.contains(' ')
                && b.split(' ').any(|w| variant(w, &c.term).is_some())
                && docs.len() as f32 >= INSIDE_BIGRAM * c.docs.len() as f32
        });
        match inside {
            Some(_) => {} // the bigram itself is a candidate and stays in the list
            None => kept.push(c),
        }
    }
    // 3. Maximal marginal relevance; with diversity 0 it is the c-TF-IDF order (`kept` is in
    // that order), so skip its co-occurrence merges.
    if diversity <= 0.0 {
        kept.truncate(top_n);
        return kept;
    }
    let top = kept
        .iter()
        .map(|c| c.weight)
        .fold(0.0f32, f32::max)
        .max(1e-12);
    let mut chosen: Vec<Candidate> = Vec::new();
    while chosen.len() < top_n && !kept.is_empty() {
        let score = |c: &Candidate| {
            let redundancy = chosen
                .iter()
                .map(|s| cooccurrence(&s.docs, &c.docs))
                .fold(0.0f32, f32::max);
            (1.0 - diversity) * c.weight / top - diversity * redundancy
        };
        let best = (0..kept.len())
            .max_by(|&a, &b| score(&kept[a]).total_cmp(&score(&kept[b])).then(b.cmp(&a)))
            .expect("not empty");
        chosen.push(kept.remove(best));
    }
    chosen
}

/// Keywords (in the order [`choose`] gives them) a label is drawn from first, per label term: the ones a reader sees
/// beside the label (`papermap topics` prints 2 per label term). Relevance over all 10 put terms
/// of one or two papers of a small topic into its label ("panoptic segmentation" for a 13-paper
/// vision topic of the seed corpus).
const LABEL_POOL_PER_TERM: usize = 2;

/// The keywords of a class in the order [`choose`] gives them, and its label from the first of
/// them ordered by relevance ([`crate::keywords::RELEVANCE_LAMBDA`]; equal relevance keeps that
/// order), then from the rest in order where those first ones make fewer distinct terms.
pub(crate) fn describe(chosen: Vec<Candidate>, label_terms: usize) -> ClassKeywords {
    let pool = chosen
        .len()
        .min(label_terms.saturating_mul(LABEL_POOL_PER_TERM));
    let mut by_relevance: Vec<&Candidate> = chosen[..pool].iter().collect();
    by_relevance.sort_by(|a, b| b.relevance.total_cmp(&a.relevance));
    let terms: Vec<&str> = by_relevance
        .iter()
        .chain(&chosen[pool..].iter().collect::<Vec<_>>())
        .map(|c| c.term.as_str())
        .collect();
    ClassKeywords {
        label: label(&terms, label_terms),
        keywords: chosen
            .into_iter()
            .map(|c| Keyword {
                term: c.term,
                weight: c.weight,
            })
            .collect(),
    }
}

/// A label from keywords in the order given: the first `terms` that add a new word (a word
/// already inside a chosen bigram, or a bigram made of chosen words, is skipped).
pub(crate) fn label(keywords: &[&str], terms: usize) -> String {
    let mut chosen: Vec<&str> = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    for &term in keywords {
        if chosen.len() == terms {
            break;
        }
        let parts: Vec<&str> = term.split(' ').collect();
        if parts
            .iter()
            .all(|p| words.iter().any(|w| variant(w, p).is_some()))
        {
            continue;
        }
        // A bigram subsumes a word chosen before it.
        if parts.len() > 1 {
            chosen.retain(|c| !parts.iter().any(|p| variant(p, c).is_some()));
        }
        chosen.push(term);
        words.extend(parts);
    }
    chosen.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(term: &str, weight: f32, docs: &[u32]) -> Candidate {
        Candidate {
            term: term.into(),
            weight,
            relevance: 0.0,
            docs: docs.to_vec(),
        }
    }

    fn terms(k: &[Candidate]) -> Vec<&str> {
        k.iter().map(|k| k.term.as_str()).collect()
    }

    #[test]
    fn variants_of_a_word_are_one_keyword() {
        assert!(variant("graph", "graphs").is_some());
        assert_eq!(variant("modal", "multimodal"), Some(true));
        assert!(variant("emotion", "emotional").is_some());
        assert!(variant("algebras", "algebra").is_some());
        assert!(variant("galaxies", "galaxy").is_some());
        assert!(variant("graph", "graphene").is_none());
        assert!(variant("star", "starburst").is_none());
        let kw = choose(
            vec![
                cand("modal", 3.0, &[0, 1]),
                cand("graphs", 2.5, &[2, 3]),
                cand("multimodal", 2.0, &[1, 4]),
                cand("graph", 1.9, &[2, 5]),
                cand("speech", 1.0, &[6]),
            ],
            5,
            0.0,
        );
        assert_eq!(terms(&kw), ["multimodal", "graphs", "speech"]);
    }

    #[test]
    fn a_word_inside_a_candidate_bigram_gives_way_to_it() {
        let kw = choose(
            vec![
                cand("black", 3.0, &[0, 1, 2, 3]),
                cand("universe", 2.0, &[4, 5]),
                cand("black holes", 1.5, &[0, 1, 2]),
                cand("ray", 1.4, &[6, 7]),
                cand("gamma ray", 1.2, &[6, 7]),
            ],
            5,
            0.0,
        );
        assert_eq!(terms(&kw), ["universe", "black holes", "gamma ray"]);
        assert_eq!(label(&terms(&kw), 3), "universe, black holes, gamma ray");
    }

    #[test]
    fn mmr_prefers_a_new_idea_over_a_near_duplicate_and_is_off_at_zero() {
        // "spin" and "lattice" always co-occur; "entanglement" is a different idea.
        let candidates = vec![
            cand("spin", 3.0, &[0, 1, 2, 3]),
            cand("lattice", 2.9, &[0, 1, 2, 3]),
            cand("entanglement", 2.5, &[4, 5, 6]),
        ];
        let kw = choose(candidates.clone(), 2, 0.3);
        assert_eq!(terms(&kw), ["spin", "entanglement"]);
        let kw = choose(candidates, 2, 0.0);
        assert_eq!(terms(&kw), ["spin", "lattice"]);
    }

    #[test]
    fn the_label_follows_relevance_and_the_keywords_keep_their_weight_order() {
        let mut generic = cand("model", 3.0, &[0, 1, 2]);
        generic.relevance = -4.0;
        let mut higgs = cand("higgs", 2.0, &[0]);
        higgs.relevance = -2.0;
        let mut quark = cand("quark", 1.0, &[1]);
        quark.relevance = -3.0;
        let described = describe(vec![generic, higgs, quark], 2);
        let order: Vec<&str> = described.keywords.iter().map(|k| k.term.as_str()).collect();
        assert_eq!(order, ["model", "higgs", "quark"]);
        assert_eq!(described.label, "higgs, quark");
    }

    #[test]
    fn the_label_pool_is_the_first_keywords_and_the_rest_only_fill_gaps() {
        // 1 label term: a pool of the first 2. "rare" is the most relevant but past the pool.
        let mut first = cand("spin", 3.0, &[0, 1]);
        first.relevance = -3.0;
        let mut second = cand("spin chain", 2.0, &[0]);
        second.relevance = -2.0;
        let mut rare = cand("rare", 1.0, &[1]);
        rare.relevance = -1.0;
        let described = describe(vec![first.clone(), second.clone(), rare.clone()], 1);
        assert_eq!(described.label, "spin chain");
        // 2 label terms, a pool of 4 that holds one idea: "spin chain" covers the other three,
        // so the second term comes from past the pool.
        let mut chain = cand("chain", 1.5, &[0]);
        chain.relevance = -4.0;
        let mut spins = cand("spins", 1.2, &[1]);
        spins.relevance = -5.0;
        let described = describe(vec![first, second, chain, spins, rare], 2);
        assert_eq!(described.label, "spin chain, rare");
    }

    #[test]
    fn label_skips_words_already_covered() {
        let keywords = ["black", "black holes", "hole", "accretion", "disk"];
        assert_eq!(label(&keywords, 2), "black holes, accretion");
    }
}
