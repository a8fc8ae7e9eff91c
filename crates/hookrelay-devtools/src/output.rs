//! Where the commands write their human-readable output: the terminal, or a buffer that tests
//! read back.

use std::io::Write as _;
use std::sync::{Arc, Mutex};

/// A cheap, cloneable line sink. Lines are written whole, so concurrent webhooks never
/// interleave their output.
#[derive(Debug, Clone, Default)]
pub struct Output {
    buffer: Option<Arc<Mutex<String>>>,
}

impl Output {
    /// Writes to standard output (and flushes after every line, so piping into `grep` or
    /// `tee` shows webhooks as they arrive).
    pub fn stdout() -> Output {
        Output { buffer: None }
    }

    /// Keeps everything in memory; [`Output::contents`] reads it. For tests.
    pub fn capture() -> Output {
        Output {
            buffer: Some(Arc::default()),
        }
    }

    /// Writes `text` and a newline.
    pub fn line(&self, text: impl AsRef<str>) {
        let text = text.as_ref();
        match &self.buffer {
            Some(buffer) => {
                let mut buffer = buffer.lock().unwrap_or_else(|e| e.into_inner());
                buffer.push_str(text);
                buffer.push('\n');
            }
            None => {
                let mut stdout = std::io::stdout().lock();
                // A closed pipe must not kill a listener that is still answering webhooks.
                let _ = writeln!(stdout, "{text}");
                let _ = stdout.flush();
            }
        }
    }

    /// Everything written so far (empty for standard output).
    pub fn contents(&self) -> String {
        self.buffer
            .as_ref()
            .map(|b| b.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
    }
}
