//! Integration tests of `sandnet:net/udp` (written by its issue).
