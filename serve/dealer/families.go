package dealer

// The network dealer generates, and its provider decodes, the material of
// the dealer suite's protocol family: importing the family registers its
// material kinds with mpc (corr.RegisterKind).
import _ "github.com/autorep/autorep/mpc/fssgates"
