//! The lab's log store as CloudWatch Logs sees it: a read model over the stream files that the
//! log shippers write (`ecs::logs`), and the pure rules of the Logs API over it.
//!
//! - [`line`]: one stored line → an event (Docker's timestamp, in ms, and the message).
//! - [`store`]: log groups (those the task definitions name), their streams and events.
//! - [`paging`]: GetLogEvents' pages and its `f/<n>` / `b/<n>` tokens.
//! - [`filter`]: FilterLogEvents' filter patterns (terms, phrases, `?` and `-` terms).
//! - [`search`]: FilterLogEvents over several streams, interleaved by time, with its token.
//!
//! Nothing here writes: the shippers own the files, and CloudWatch's view is derived from them
//! each time it is asked, so it is never stale.

pub mod filter;
pub mod line;
pub mod paging;
pub mod search;
pub mod store;

pub use filter::{FilterError, FilterPattern};
pub use line::LogEvent;
pub use paging::{Page, PageRequest, Position, TokenError};
pub use store::{LogGroup, LogStore, LogStream, StoreError};
