// Package e2e holds Fieldflow's end-to-end tests: the real stack (PostgreSQL, the embedded
// Temporal server, the worker and the API) driven over HTTP, and the fieldflow binary killed and
// restarted. It is one of the two test packages that link the Temporal server.
package e2e
