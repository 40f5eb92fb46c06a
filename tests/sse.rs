//! Integration tests of `sandnet:net/sse` (written by its issue).
