//! papermap: find related papers and draw topic maps from paper abstracts.

#[cfg(feature = "embed")]
pub use papermap_embed as embed;
