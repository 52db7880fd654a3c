//! Python-compatible JSON text (filled in by the JSON work).
