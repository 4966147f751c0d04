//! papermap's NPMI against gensim's `CoherenceModel(coherence="c_npmi")` on a committed fixture
//! (made by `benches/baselines/npmi_gensim_fixture.py`): long and short documents, repeated words
//! inside a window, documents without a topic term, and a bigram term.

use papermap_topics::quality::npmi;
use papermap_topics::TopicDoc;

#[test]
fn npmi_matches_gensim_c_npmi_to_1e_4() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("data/npmi_gensim.json")).expect("fixture is JSON");
    let docs: Vec<TopicDoc> = fixture["docs"]
        .as_array()
        .expect("docs")
        .iter()
        .enumerate()
        .map(|(i, d)| TopicDoc {
            id: format!("d{i}"),
            title: String::new(),
            text: d.as_str().expect("text").to_string(),
        })
        .collect();
    let topics: Vec<Vec<String>> =
        serde_json::from_value(fixture["topics"].clone()).expect("topics");
    let want: Vec<f64> = serde_json::from_value(fixture["npmi"].clone()).expect("npmi");
    let got = npmi(&docs, &topics);
    assert_eq!(got.len(), want.len());
    for (t, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!((g - w).abs() < 1e-4, "topic {t}: papermap {g}, gensim {w}");
    }
}
