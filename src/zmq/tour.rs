//! The ZeroMQ section of `netlab tour` (placeholder, filled below).

use crate::tour::{Guide, TourError};

pub fn run(_g: &mut Guide) -> Result<(), TourError> {
    Ok(())
}
