//! Topics for papermap: k-means on embeddings ([`kmeans`], with linfa as the reference path),
//! c-TF-IDF keywords over hashed terms with readable labels and topic groups ([`TopicModel`]),
//! and a 2-D map ([`TopicMap`]): a UMAP layout on a [`NeighbourGraph`] (exact, or from any index),
//! drawn as SVG and as a self-contained WebGL page.
//!
//! Every stage is linear in the number of papers: nothing n × n is ever allocated, the layout's
//! graph and edges are flat arrays, k-means restarts run on a sample, keywords count term hashes.
//!
//! ```
//! use ndarray::Array2;
//! use papermap_topics::{MapConfig, TopicConfig, TopicDoc, TopicMap, TopicModel};
//!
//! // Two obvious groups of three "papers" in 2-D.
//! let x = Array2::from_shape_vec((6, 2), vec![1.0, 0.0, 0.9, 0.1, 0.95, 0.05, 0.0, 1.0, 0.1, 0.9, 0.05, 0.95]).unwrap();
//! let docs: Vec<TopicDoc> = (0..6)
//!     .map(|i| TopicDoc {
//!         id: format!("p{i}"),
//!         title: if i < 3 { "Galaxy survey".into() } else { "Quantum spin chain".into() },
//!         text: if i < 3 { "galaxy redshift survey".into() } else { "quantum spin entanglement".into() },
//!     })
//!     .collect();
//! let model = TopicModel::fit(x.view(), &docs, &TopicConfig { k: Some(2), ..TopicConfig::default() }).unwrap();
//! assert_eq!(model.assignments[0], model.assignments[1]);
//! assert_ne!(model.assignments[0], model.assignments[3]);
//! let map = TopicMap::build(x.view(), &model, &docs, &MapConfig { deterministic: true, ..MapConfig::default() }).unwrap();
//! assert!(map.to_html().contains("papermap-points"));
//! ```

mod colours;
mod error;
mod fitting;
mod groups;
mod html;
mod keywords;
pub mod kmeans;
mod labels;
mod map;
mod model;
mod neighbours;
mod projection;
pub mod quality;
mod silhouette;
mod stopwords;
mod svg;
mod terms;
mod umap;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

pub use error::TopicError;
pub use fitting::REFINE_ITERS;
pub use keywords::{Keyword, KeywordConfig};
pub use kmeans::{KMeansParams, KMeansResult, Variant};
pub use map::{MapConfig, MapGroup, MapList, MapListItem, MapPoint, MapTopic, TopicMap};
pub use model::{
    KScore, StoredLayout, Topic, TopicConfig, TopicDoc, TopicGroup, TopicModel,
    MODEL_FORMAT_VERSION,
};
pub use neighbours::NeighbourGraph;
pub use projection::pca_start;
pub use terms::shared_terms;

/// Where a long computation stands; passed to the progress callbacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// What is running.
    pub stage: Stage,
    /// Units of `stage` finished.
    pub done: usize,
    /// Units of `stage` in all.
    pub total: usize,
}

/// The long-running steps that report [`Progress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Stage {
    /// k-means runs (units: runs) for this k.
    KMeans {
        /// The number of clusters being fitted.
        k: usize,
    },
    /// Automatic k: candidate values of k scored (units: candidates).
    ChoosingK,
    /// Nearest neighbours in the embedding space (units: documents).
    Neighbours,
    /// Layout epochs of the 2-D projection (units: epochs).
    Layout,
}

/// Checks an embedding matrix: at least one row and column, every value finite.
pub(crate) fn validate_embeddings(x: ArrayView2<f32>) -> Result<(), TopicError> {
    if x.nrows() == 0 {
        return Err(TopicError::NoDocuments);
    }
    if x.ncols() == 0 {
        return Err(TopicError::ZeroDimensions);
    }
    for (row, r) in x.rows().into_iter().enumerate() {
        if let Some((col, &value)) = r.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(TopicError::NonFinite { row, col, value });
        }
    }
    Ok(())
}

/// Checks `1 <= k <= n`.
pub(crate) fn validate_k(k: usize, n: usize) -> Result<(), TopicError> {
    if k == 0 {
        return Err(TopicError::ZeroK);
    }
    if k > n {
        return Err(TopicError::KTooLarge { k, n });
    }
    Ok(())
}
