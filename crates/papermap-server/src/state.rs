//! What the server holds: the library as an immutable snapshot that readers share, the one
//! writer, the embedding queue and the options.
//!
//! Readers take the current snapshot (an `Arc` clone under a lock held for nanoseconds) and
//! query it without any further locking, so a write in progress never blocks them. A write
//! opens the library afresh (milliseconds: the files are mapped), applies its change, saves
//! with [`PaperMap::save_rebasing`] (another process's save is rebased onto, never
//! overwritten) and only then swaps the new snapshot in: readers see the old papers or the new
//! ones, never half a write.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use papermap::embed::Embedder;
use papermap::{PaperMap, PaperMapBuilder};

use crate::batcher::EmbedQueue;
use crate::error::{ApiError, ServerError};

/// How a server runs; [`ServeOptions::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The library directory.
    pub dir: PathBuf,
    /// Refuse every write, whatever token is given.
    pub read_only: bool,
    /// The bearer token writes must carry; `None` refuses writes.
    pub token: Option<String>,
    /// Largest request body (413 beyond).
    pub max_body_bytes: usize,
    /// Longest a read may take (408 beyond); writes run to the end.
    pub read_timeout: Duration,
    /// Embedding requests that may wait for the model (503 beyond).
    pub embed_queue: usize,
    /// Texts run through the model in one batch.
    pub embed_batch: usize,
    /// Link of a paper with an arXiv id; `{id}` stands for the id.
    pub link_template: Option<String>,
}

impl ServeOptions {
    /// Defaults for the library in `dir`: writes refused, 16 MiB bodies, 30 s reads, 256
    /// waiting embedding requests, batches of 64 texts, arXiv links.
    pub fn new(dir: impl Into<PathBuf>) -> ServeOptions {
        ServeOptions {
            dir: dir.into(),
            read_only: false,
            token: None,
            max_body_bytes: 16 << 20,
            read_timeout: Duration::from_secs(30),
            embed_queue: 256,
            embed_batch: 64,
            link_template: Some("https://arxiv.org/abs/{id}".into()),
        }
    }
}

/// The library as readers see it: replaced whole by each write.
pub struct Snapshot {
    /// The library.
    pub map: PaperMap,
    /// Ids added or changed through this server since it started (flagged on the map page).
    pub session: HashSet<String>,
    /// Counts the writes this server made; the map page is redrawn when it changes.
    pub version: u64,
}

/// Everything a loaded server holds.
pub struct Loaded {
    snapshot: RwLock<Arc<Snapshot>>,
    embedder: Arc<Embedder>,
    /// Embedding for readers (search, `/v1/embed`), batched across callers.
    pub queue: EmbedQueue,
    /// One writer at a time inside the process.
    pub writer: Arc<tokio::sync::Mutex<()>>,
    /// The map page of the snapshot of that version.
    pub page: tokio::sync::Mutex<Option<(u64, axum::body::Bytes)>>,
}

/// A papermap server: the options, and the library once [`load`](Self::load) has run.
pub struct Server {
    /// How it runs.
    pub options: ServeOptions,
    builder: Mutex<Option<PaperMapBuilder>>,
    loaded: OnceLock<Loaded>,
}

impl Server {
    /// A server of `options` that opens the library with `builder` (model, precision, threads)
    /// when [`load`](Self::load) is called; until then it answers `/health` with 503.
    pub fn new(options: ServeOptions, builder: PaperMapBuilder) -> Server {
        Server {
            options,
            builder: Mutex::new(Some(builder)),
            loaded: OnceLock::new(),
        }
    }

    /// Opens the library and loads its model (seconds); then the server is ready.
    pub fn load(&self) -> Result<(), ServerError> {
        let Some(builder) = self.builder.lock().expect("builder lock").take() else {
            return Ok(());
        };
        let map = builder.open(&self.options.dir)?;
        let embedder = map.embedder()?;
        // Parse a stored topics file now, not on the first reader's time.
        map.topic_table()?;
        let queue = EmbedQueue::start(
            embedder.clone(),
            self.options.embed_queue,
            self.options.embed_batch,
        );
        let snapshot = Snapshot {
            map,
            session: HashSet::new(),
            version: 0,
        };
        let _ = self.loaded.set(Loaded {
            snapshot: RwLock::new(Arc::new(snapshot)),
            embedder,
            queue,
            writer: Arc::new(tokio::sync::Mutex::new(())),
            page: tokio::sync::Mutex::new(None),
        });
        Ok(())
    }

    /// The loaded state, or 503 while loading.
    pub fn loaded(&self) -> Result<&Loaded, ApiError> {
        self.loaded.get().ok_or_else(ApiError::loading)
    }

    /// Whether [`load`](Self::load) has finished.
    pub fn is_ready(&self) -> bool {
        self.loaded.get().is_some()
    }
}

impl Loaded {
    /// The library as it is now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().expect("snapshot lock").clone()
    }

    /// Applies `change` to the library in `dir` and saves it, then makes it what readers see;
    /// `touched` are the ids it adds or changes. Call with the writer lock held, off the async
    /// threads. A failure leaves the library and the snapshot as they were.
    pub fn write<T>(
        &self,
        dir: &std::path::Path,
        touched: &[String],
        change: impl FnOnce(&mut PaperMap) -> papermap::Result<T>,
    ) -> Result<T, ApiError> {
        crate::fault::hold_write();
        let mut map = PaperMap::builder()
            .shared_embedder(self.embedder.clone())
            .open(dir)?;
        let out = change(&mut map)?;
        map.save_rebasing(dir, |_, _| {})?;
        // Saved: from here on the snapshot must become what is on disk. Parsing the topics now
        // only spares the first reader; if that fails, readers get the error themselves.
        if let Err(e) = map.topic_table() {
            tracing::warn!("{e}");
        }
        let old = self.snapshot();
        let mut session = old.session.clone();
        session.extend(touched.iter().cloned());
        let next = Arc::new(Snapshot {
            map,
            session,
            version: old.version + 1,
        });
        *self.snapshot.write().expect("snapshot lock") = next;
        Ok(out)
    }
}
