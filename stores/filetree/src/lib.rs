//! filetree store (in progress).
