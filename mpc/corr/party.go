package corr

import "fmt"

// Party identifies a protocol participant.
type Party int

// The two parties.
const (
	Server Party = 0 // holds the weights, learns nothing
	Client Party = 1 // holds the input, learns the output
)

// String names the party.
func (p Party) String() string {
	switch p {
	case Server:
		return "server"
	case Client:
		return "client"
	}
	return fmt.Sprintf("party(%d)", int(p))
}

// Valid reports whether p is Server or Client.
func (p Party) Valid() bool { return p == Server || p == Client }
