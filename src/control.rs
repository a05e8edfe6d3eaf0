//! Control endpoint.
