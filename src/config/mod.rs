//! `emulator.toml` → [`Config`].
mod model;
pub use model::*;
