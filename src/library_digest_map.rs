//! Today's papers on the library's kept map: the ranked digest beside the map the reader knows,
//! each new paper placed among its nearest library papers (never a new layout).

use std::collections::HashMap;

use papermap_corpus::Paper;
use papermap_index::l2_normalize;
use papermap_topics::{MapConfig, MapList, MapListItem, MapPoint, TopicMap};

use crate::error::{PaperMapError, Result};
use crate::library_map::{beside, DenseRows, PLACE_AMONG};
use crate::{PaperMap, Ranking};

/// Heading of the ranked list on the page.
const LIST_TITLE: &str = "Today's papers, best first";

impl PaperMap {
    /// The library's kept map (see [`place_map`](Self::place_map)) with the papers of `digest`
    /// on it, flagged `today`, and `ranking` listed beside it in its order with the reasons.
    /// A digest paper the library holds is its own point; any other is placed at the
    /// similarity-weighted mean of its nearest library papers' positions, in its nearest
    /// topic. `vectors` are the digest's, row-major, as given to
    /// [`rank_embedded`](Self::rank_embedded). Nothing is laid out or written: a library without
    /// a kept map is [`PaperMapError::NoKeptMap`].
    pub fn digest_map(
        &self,
        digest: &[Paper],
        vectors: &[f32],
        ranking: &Ranking,
        config: &MapConfig,
    ) -> Result<TopicMap> {
        // No topics means no kept map either: `papermap map` makes both.
        let fitted = self.topics.get()?.ok_or(PaperMapError::NoKeptMap)?;
        let stored = fitted.layout.as_ref().ok_or(PaperMapError::NoKeptMap)?;
        let dim = self.dim();
        if vectors.len() != digest.len() * dim {
            return Err(PaperMapError::VectorShape {
                papers: digest.len(),
                values: vectors.len(),
                dim,
                model: self.fingerprint.name.clone(),
            });
        }
        let mut map = self.extend_layout(fitted, stored, config)?;
        let rows = DenseRows::of(self);
        let mut point_of: HashMap<&str, usize> = HashMap::with_capacity(digest.len());
        for (paper, row) in digest.iter().zip(vectors.chunks_exact(dim)) {
            if point_of.contains_key(paper.id.as_str()) {
                continue;
            }
            let at = match self.locate(&paper.id)? {
                Some(loc) => rows.row_of(loc),
                None => {
                    let mut query = row.to_vec();
                    l2_normalize(&mut query).map_err(|e| PaperMapError::BadVector {
                        id: paper.id.clone(),
                        reason: e.to_string(),
                    })?;
                    let hits = self.nearest(&query, PLACE_AMONG, &|_| true)?;
                    let [x, y] = beside(&hits, |loc| {
                        let p = &map.points[rows.row_of(loc)];
                        [p.x, p.y]
                    });
                    let one = ndarray::ArrayView2::from_shape((1, dim), &query[..])
                        .expect("one row of the model's width");
                    let topic = fitted.assign(one)?[0];
                    map.points.push(MapPoint {
                        id: paper.id.clone(),
                        title: paper.title.clone(),
                        topic,
                        x,
                        y,
                        link: config
                            .link_template
                            .as_ref()
                            .map(|t| t.replace("{id}", &paper.id)),
                        added: false,
                        today: false,
                    });
                    map.points.len() - 1
                }
            };
            map.points[at].today = true;
            point_of.insert(&paper.id, at);
        }
        let items = ranking
            .papers
            .iter()
            .filter_map(|r| {
                let point = *point_of.get(r.id.as_str())?;
                let mut details: Vec<String> = r
                    .nearest
                    .iter()
                    .zip(&r.shared_terms)
                    .map(|(near, terms)| match terms.is_empty() {
                        true => format!("{:.2} {}", near.score, near.title),
                        false => format!(
                            "{:.2} {} — shares: {}",
                            near.score,
                            near.title,
                            terms.join(", ")
                        ),
                    })
                    .collect();
                if r.in_library {
                    details.insert(0, "already in your library".into());
                }
                if r.title_only {
                    details.insert(0, "no abstract: ranked on its title".into());
                }
                Some(MapListItem {
                    point,
                    score: r.score,
                    details,
                })
            })
            .collect();
        map.list = Some(MapList {
            title: LIST_TITLE.into(),
            items,
        });
        Ok(map)
    }
}
