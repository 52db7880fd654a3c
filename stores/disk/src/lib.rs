//! disk store (in progress).
