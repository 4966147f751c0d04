//! Embedding requests of concurrent callers, run through the model together: one worker
//! thread takes every request waiting (up to a batch of texts) and embeds them in one call, as
//! text-embeddings-inference batches. The queue is bounded; a full queue is a 503 with
//! `Retry-After`, never an unbounded wait.

use std::sync::Arc;

use papermap::embed::Embedder;
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;

struct Job {
    texts: Vec<String>,
    reply: oneshot::Sender<Result<Vec<f32>, String>>,
}

/// The handle callers embed through; the worker stops when every handle is dropped.
#[derive(Clone)]
pub struct EmbedQueue {
    jobs: mpsc::Sender<Job>,
    dim: usize,
}

impl EmbedQueue {
    /// Starts the worker: at most `waiting` requests queue up, and one model call takes up to
    /// `batch` texts (a request larger than that runs alone).
    pub fn start(embedder: Arc<Embedder>, waiting: usize, batch: usize) -> EmbedQueue {
        let (jobs, mut queue) = mpsc::channel::<Job>(waiting.max(1));
        let dim = embedder.dim();
        std::thread::Builder::new()
            .name("papermap-embed".into())
            .spawn(move || {
                while let Some(first) = queue.blocking_recv() {
                    let mut texts = first.texts.len();
                    let mut batch_jobs = vec![first];
                    while texts < batch {
                        match queue.try_recv() {
                            Ok(job) => {
                                texts += job.texts.len();
                                batch_jobs.push(job);
                            }
                            Err(_) => break,
                        }
                    }
                    run(&embedder, batch_jobs, dim);
                }
            })
            .expect("spawning the embedding thread");
        EmbedQueue { jobs, dim }
    }

    /// Width of the vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The vectors of `texts`, row-major, once the worker reaches them.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<f32>, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .try_send(Job { texts, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => ApiError::busy(),
                mpsc::error::TrySendError::Closed(_) => {
                    ApiError::internal("the embedding worker has stopped")
                }
            })?;
        answer
            .await
            .map_err(|_| ApiError::internal("the embedding worker has stopped"))?
            .map_err(ApiError::internal)
    }
}

fn run(embedder: &Embedder, jobs: Vec<Job>, dim: usize) {
    let texts: Vec<&str> = jobs
        .iter()
        .flat_map(|j| j.texts.iter().map(String::as_str))
        .collect();
    match embedder.embed(&texts) {
        Ok(vectors) => {
            let vectors = vectors.into_vec();
            let mut at = 0;
            for job in jobs {
                let len = job.texts.len() * dim;
                // A caller that gave up (its connection closed) just is not answered.
                let _ = job.reply.send(Ok(vectors[at..at + len].to_vec()));
                at += len;
            }
        }
        Err(e) => {
            let message = format!("embedding failed: {e}");
            for job in jobs {
                let _ = job.reply.send(Err(message.clone()));
            }
        }
    }
}
