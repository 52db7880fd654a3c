//! Sanitization strategies (filled in by the sanitization work).
