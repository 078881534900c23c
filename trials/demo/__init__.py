"""The demo trial, built from the synthetic clindata study."""
