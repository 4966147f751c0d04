//! Turning per-token hidden states into one vector per text, as sentence-transformers' `Pooling` module does.

use std::path::Path;

use candle_core::{DType, Tensor, D};
use serde::Deserialize;

use crate::error::{EmbedError, Result};

/// How token vectors are combined into a text vector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolingMode {
    /// Mean over the tokens the attention mask keeps (sentence-transformers' default).
    #[default]
    Mean,
    /// The `[CLS]` token's vector.
    Cls,
    /// Element-wise maximum over kept tokens.
    Max,
    /// Sum over kept tokens divided by the square root of their count.
    MeanSqrtLen,
}

/// The subset of `1_Pooling/config.json` papermap reads.
#[derive(Debug, Deserialize)]
struct PoolingFile {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

impl PoolingMode {
    /// Reads `1_Pooling/config.json`. Exactly one mode must be on: concatenated modes would change the dimension.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| EmbedError::io(path, e))?;
        let file: PoolingFile = serde_json::from_str(&text).map_err(|e| EmbedError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let modes = [
            (file.pooling_mode_mean_tokens, PoolingMode::Mean),
            (file.pooling_mode_cls_token, PoolingMode::Cls),
            (file.pooling_mode_max_tokens, PoolingMode::Max),
            (
                file.pooling_mode_mean_sqrt_len_tokens,
                PoolingMode::MeanSqrtLen,
            ),
        ];
        let on: Vec<PoolingMode> = modes.iter().filter(|m| m.0).map(|m| m.1).collect();
        match on.as_slice() {
            [mode] => Ok(*mode),
            _ => Err(EmbedError::Config {
                path: path.to_path_buf(),
                message: format!(
                    "exactly one pooling mode must be enabled, found {}; papermap does not concatenate modes",
                    on.len()
                ),
            }),
        }
    }

    /// Pools `hidden` (`batch × seq × dim`) under `mask` (`batch × seq`, 1 for real tokens, 0 for padding).
    pub fn pool(self, hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(D::Minus1)?;
        let pooled = match self {
            PoolingMode::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
            PoolingMode::Mean | PoolingMode::MeanSqrtLen => {
                let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
                // sentence-transformers clamps the count at 1e-9 so an all-padding row cannot divide by zero.
                let count = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
                let count = if self == PoolingMode::MeanSqrtLen {
                    count.sqrt()?
                } else {
                    count
                };
                summed.broadcast_div(&count)?
            }
            PoolingMode::Max => {
                // Padded positions must never win the max: push them far below any activation.
                let penalty = ((mask.ones_like()? - &mask)? * -1e9f64)?;
                hidden.broadcast_add(&penalty)?.max(1)?
            }
        };
        Ok(pooled)
    }
}

/// Divides each row by its L2 norm, with torch's `F.normalize` floor of 1e-12.
pub fn l2_normalize(rows: &Tensor) -> Result<Tensor> {
    let norm = rows
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12f32, f32::MAX)?;
    Ok(rows.broadcast_div(&norm)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn hidden() -> (Tensor, Tensor) {
        // One row with two real tokens and one pad.
        let h = Tensor::new(&[[[1f32, 2.], [3., 4.], [100., 100.]]], &Device::Cpu).unwrap();
        let m = Tensor::new(&[[1u32, 1, 0]], &Device::Cpu).unwrap();
        (h, m)
    }

    #[test]
    fn mean_ignores_padding() {
        let (h, m) = hidden();
        let v: Vec<Vec<f32>> = PoolingMode::Mean.pool(&h, &m).unwrap().to_vec2().unwrap();
        assert_eq!(v, vec![vec![2., 3.]]);
    }

    #[test]
    fn max_and_cls() {
        let (h, m) = hidden();
        let v: Vec<Vec<f32>> = PoolingMode::Max.pool(&h, &m).unwrap().to_vec2().unwrap();
        assert_eq!(v, vec![vec![3., 4.]]);
        let v: Vec<Vec<f32>> = PoolingMode::Cls.pool(&h, &m).unwrap().to_vec2().unwrap();
        assert_eq!(v, vec![vec![1., 2.]]);
    }

    #[test]
    fn normalize_gives_unit_rows_and_keeps_zero() {
        let t = Tensor::new(&[[3f32, 4.], [0., 0.]], &Device::Cpu).unwrap();
        let v: Vec<Vec<f32>> = l2_normalize(&t).unwrap().to_vec2().unwrap();
        assert_eq!(v, vec![vec![0.6, 0.8], vec![0., 0.]]);
    }

    #[test]
    fn pooling_file_needs_exactly_one_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, r#"{"pooling_mode_cls_token": true}"#).unwrap();
        assert_eq!(PoolingMode::from_file(&p).unwrap(), PoolingMode::Cls);
        std::fs::write(
            &p,
            r#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true}"#,
        )
        .unwrap();
        assert!(PoolingMode::from_file(&p).is_err());
    }
}
