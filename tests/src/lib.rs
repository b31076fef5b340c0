//! `bindcar-e2e` is its tests (`tests/tests/`): the processes they drive are in
//! `bindcar-testbed` (`tests/testbed/`). Cargo wants a target besides the tests; this is it.
