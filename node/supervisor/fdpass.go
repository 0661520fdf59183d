package supervisor

import (
	"errors"
	"net"
	"net/http"

	"golang.org/x/sys/unix"

	"github.com/roosthq/roost/node/nodeapi"
)

// dialFDAnswer is the answer that carries a connected socket.
const dialFDAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

// sendConn takes over w's unix connection and sends c's socket on it with
// the 200 answer, in one message. Once sent, the receiver holds its own
// copy of the socket; the caller closes c. An error once the connection
// is taken over closes it: the node then sees its dial fail.
func sendConn(w http.ResponseWriter, c *net.TCPConn) error {
	hj, ok := w.(http.Hijacker)
	if !ok {
		refuse(w, nodeapi.CodeInternal, "the connection cannot be taken over")
		return errors.New("the connection cannot be taken over")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return err
	}
	defer conn.Close()
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return errors.New("not a unix socket")
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	if err := rc.Control(func(fd uintptr) {
		_, _, werr = uc.WriteMsgUnix([]byte(dialFDAnswer), unix.UnixRights(int(fd)), nil)
	}); err != nil {
		return err
	}
	return werr
}
