//! A progress hook for clients: called as each piece of a response body arrives, with the
//! index of the request (in the order given) and the bytes that just came. `netlab compare
//! --loss` draws per-stream arrival times from it; a progress bar could use it too.

use std::fmt;
use std::sync::Arc;

/// `(request index, bytes just received)`, from whichever thread reads the body.
#[derive(Clone)]
pub struct Progress(pub Arc<dyn Fn(usize, usize) + Send + Sync>);

impl Progress {
    pub fn new(f: impl Fn(usize, usize) + Send + Sync + 'static) -> Progress {
        Progress(Arc::new(f))
    }

    pub fn call(&self, index: usize, bytes: usize) {
        (self.0)(index, bytes)
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress(…)")
    }
}
