//! Shared runtime of the E2B SDK.
