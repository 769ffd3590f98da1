"""Tests of the fake Box server (devstack/fake_box): spec conformance, OAuth, As-User, paging, faults."""
