//! Progress bars on stderr, shown only when a person is watching.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for `total` items, hidden when stderr is not a terminal (pipes, CI logs).
pub fn bar(total: usize, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} [{elapsed_precise}, eta {eta}]")
            .expect("static template"),
    );
    bar.set_message(what.to_string());
    bar
}

/// A progress callback for the topic and map stages: one bar per stage, replaced when the
/// stage changes (k-means runs, choosing k, neighbours, layout epochs).
pub fn stages() -> impl FnMut(papermap::TopicProgress) {
    let mut current: Option<(papermap::TopicStage, ProgressBar)> = None;
    move |p: papermap::TopicProgress| {
        if current.as_ref().is_none_or(|(stage, _)| *stage != p.stage) {
            if let Some((_, old)) = current.take() {
                old.finish_and_clear();
            }
            let what = match p.stage {
                papermap::TopicStage::KMeans { k } => format!("k-means, k = {k} (runs)"),
                papermap::TopicStage::ChoosingK => "choosing k (candidates)".to_string(),
                papermap::TopicStage::Neighbours => "neighbours (papers)".to_string(),
                papermap::TopicStage::Layout => "layout (epochs)".to_string(),
                _ => "working".to_string(),
            };
            current = Some((p.stage, bar(p.total, &what)));
        }
        if let Some((_, bar)) = &current {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
            if p.done >= p.total {
                bar.finish_and_clear();
            }
        }
    }
}
