package process

import "flag"

// update rewrites golden files: go test ./process/ -update.
var update = flag.Bool("update", false, "rewrite the golden files")
