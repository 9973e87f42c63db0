//! The static website of a registry's catalogue.
