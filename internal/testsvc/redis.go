package testsvc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a redis-server (Debian's redis-server package) on 127.0.0.1,
// with a password, and with TLS when asked (a certificate made for the
// test, its CA in CAFile: maintgate trusts it through [fleet] ca_file).
// Its data lives in a temporary directory: Stop saves it and Start loads
// it again, as a Redis restarted with its data; Flush empties it, as one
// restarted without.
type Redis struct {
	URL      string // redis://:PASSWORD@127.0.0.1:PORT/0, or rediss://
	Password string
	Port     int
	CAFile   string // TLS only: the CA of the server's certificate

	tls  bool
	dir  string
	cred *syscall.Credential

	mu  sync.Mutex
	cmd *exec.Cmd
	ret chan error
}

// RedisOptions choose how the server listens.
type RedisOptions struct {
	TLS bool
}

// NewRedis starts a redis-server for this test; it is stopped in
// t.Cleanup. A missing redis-server fails the test under CI and skips it
// elsewhere.
func NewRedis(t testing.TB, o RedisOptions) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		Missing(t, "redis-server (Debian package redis-server)")
	}
	cred, _, err := serviceUser("redis")
	if err != nil {
		Missing(t, err.Error())
	}
	r := &Redis{tls: o.TLS, cred: cred, Password: "pw-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-s3cr3t"}
	r.dir = serviceDir(t, "maintgate-redis-", cred)
	if o.TLS {
		if err := r.makeCert(); err != nil {
			t.Fatalf("redis TLS certificate: %v", err)
		}
	}
	t.Cleanup(func() { r.signal(syscall.SIGKILL) })
	var lastErr error
	for range 3 { // the free port can be taken between FreePort and bind
		r.Port = FreePort(t)
		scheme := "redis"
		if o.TLS {
			scheme = "rediss"
		}
		r.URL = fmt.Sprintf("%s://:%s@127.0.0.1:%d/0", scheme, r.Password, r.Port)
		if lastErr = r.start(); lastErr == nil {
			return r
		}
	}
	t.Fatalf("start redis: %v", lastErr)
	return nil
}

func (r *Redis) log() string { return filepath.Join(r.dir, "redis.log") }

// Start starts the server again after Stop, on the same port and data.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	if err := r.start(); err != nil {
		t.Fatalf("restart redis: %v", err)
	}
}

// Stop saves the data and stops the server (SHUTDOWN SAVE), waiting
// until it has exited.
func (r *Redis) Stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := r.Client(t)
	defer c.Close()
	c.ShutdownSave(ctx) // the connection closes under it: its error says nothing
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	select {
	case <-r.ret:
	case <-ctx.Done():
		r.cmd.Process.Kill()
		<-r.ret
	}
	r.cmd, r.ret = nil, nil
}

// Flush empties every database, as a Redis restarted without its data.
func (r *Redis) Flush(t testing.TB) {
	t.Helper()
	c := r.Client(t)
	defer c.Close()
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		t.Fatalf("redis FLUSHALL: %v", err)
	}
}

// Client is a client of the server, for a test to look or write.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(r.URL)
	if err != nil {
		t.Fatalf("redis URL: %v", err)
	}
	if r.tls {
		pool := x509.NewCertPool()
		pem, err := os.ReadFile(r.CAFile)
		if err != nil || !pool.AppendCertsFromPEM(pem) {
			t.Fatalf("redis CA %s: %v", r.CAFile, err)
		}
		opt.TLSConfig.RootCAs = pool
	}
	return redis.NewClient(opt)
}

func (r *Redis) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return fmt.Errorf("already running")
	}
	args := []string{"--bind", "127.0.0.1", "--dir", r.dir, "--logfile", r.log(),
		"--save", "", "--appendonly", "no", "--requirepass", r.Password, "--daemonize", "no"}
	if r.tls {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(r.Port),
			"--tls-cert-file", filepath.Join(r.dir, "cert.pem"), "--tls-key-file", filepath.Join(r.dir, "key.pem"),
			"--tls-auth-clients", "no")
	} else {
		args = append(args, "--port", strconv.Itoa(r.Port))
	}
	cmd := exec.Command("redis-server", args...)
	cmd.SysProcAttr = sysProcAttr(r.cred)
	cmd.Dir = r.dir
	if err := cmd.Start(); err != nil {
		return err
	}
	ret := make(chan error, 1)
	go func() { ret <- cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(r.Port)), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case werr := <-ret:
			return fmt.Errorf("redis-server exited: %v\n%s", werr, tail(r.log(), 2000))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-ret
			return fmt.Errorf("redis-server not listening after 20s\n%s", tail(r.log(), 2000))
		}
	}
	r.cmd, r.ret = cmd, ret
	return nil
}

// signal sends sig to the server and waits for it to exit.
func (r *Redis) signal(sig syscall.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(sig)
	<-r.ret
	r.cmd, r.ret = nil, nil
}

// makeCert writes a CA and a server certificate for 127.0.0.1 and
// localhost into the server's directory, readable by the server's user.
func (r *Redis) makeCert() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "maintgate test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	caCert, _ := x509.ParseCertificate(caDER)
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	r.CAFile = filepath.Join(r.dir, "ca.pem")
	files := map[string]*pem.Block{
		"ca.pem":   {Type: "CERTIFICATE", Bytes: caDER},
		"cert.pem": {Type: "CERTIFICATE", Bytes: der},
		"key.pem":  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	}
	for name, b := range files {
		p := filepath.Join(r.dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(b), 0o600); err != nil {
			return err
		}
		if r.cred != nil {
			if err := os.Chown(p, int(r.cred.Uid), int(r.cred.Gid)); err != nil {
				return err
			}
		}
	}
	return os.Chmod(r.CAFile, 0o644)
}
