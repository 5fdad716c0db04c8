//! The badges API's records and refusals.
