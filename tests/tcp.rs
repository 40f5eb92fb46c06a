//! Integration tests of `sandnet:net/tcp` (written by its issue).
