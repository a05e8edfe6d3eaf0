//! Lab.
pub struct Lab;
