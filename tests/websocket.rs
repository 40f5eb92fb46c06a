//! Integration tests of `sandnet:net/websocket` (written by its issue).
