package remote

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/spnego"
)

// kerberosLogin is one Kerberos login (gokrb5) shared by every host of a Connector: the
// TGT is requested once, service tickets are cached per SPN by the gokrb5 client. (The
// masterzen/winrm ClientKerberos logs in again for every SOAP message.)
type kerberosLogin struct {
	cfg   KerberosConfig
	creds Credentials

	once sync.Once
	cl   *client.Client
	err  error
}

func (k *kerberosLogin) client() (*client.Client, error) {
	k.once.Do(func() { k.cl, k.err = k.login() })
	return k.cl, k.err
}

func (k *kerberosLogin) login() (*client.Client, error) {
	path := k.cfg.Krb5Conf
	if path == "" {
		path = os.Getenv("KRB5_CONFIG")
	}
	if path == "" {
		path = "/etc/krb5.conf"
	}
	conf, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("load the Kerberos configuration %s: %w", path, err)
	}
	if k.cfg.CCache != "" {
		cc, err := credentials.LoadCCache(k.cfg.CCache)
		if err != nil {
			return nil, fmt.Errorf("load the Kerberos credential cache %s: %w", k.cfg.CCache, err)
		}
		cl, err := client.NewFromCCache(cc, conf, client.DisablePAFXFAST(true))
		if err != nil {
			return nil, fmt.Errorf("use the Kerberos credential cache %s: %w", k.cfg.CCache, err)
		}
		return cl, nil
	}
	user, realm := k.creds.User, k.cfg.Realm
	if d, a, ok := strings.Cut(user, `\`); ok {
		user = a
		if realm == "" {
			realm = strings.ToUpper(d)
		}
	}
	if a, d, ok := strings.Cut(user, "@"); ok {
		user = a
		if realm == "" {
			realm = strings.ToUpper(d)
		}
	}
	if realm == "" {
		realm = conf.LibDefaults.DefaultRealm
	}
	if realm == "" {
		return nil, errors.New("no Kerberos realm: set it, or give the user as user@REALM")
	}
	cl := client.NewWithPassword(user, realm, k.creds.Password, conf, client.DisablePAFXFAST(true))
	if err := cl.Login(); err != nil {
		return nil, fmt.Errorf("log in to Kerberos as %s@%s: %s", user, realm, k.creds.scrub(err.Error()))
	}
	return cl, nil
}

// kerberosMech sends a SPNEGO-wrapped Kerberos AP-REQ for the host's SPN with the message
// (one leg).
type kerberosMech struct {
	login *kerberosLogin
	spn   string
}

func (m kerberosMech) begin() (secContext, []byte, bool, error) {
	cl, err := m.login.client()
	if err != nil {
		return nil, nil, false, err
	}
	s := spnego.SPNEGOClient(cl, m.spn)
	if err := s.AcquireCred(); err != nil {
		return nil, nil, false, fmt.Errorf("get the Kerberos credential: %w", err)
	}
	st, err := s.InitSecContext()
	if err != nil {
		return nil, nil, false, fmt.Errorf("get a Kerberos service ticket for %s: %w", m.spn, err)
	}
	tok, err := st.Marshal()
	if err != nil {
		return nil, nil, false, fmt.Errorf("encode the Kerberos SPNEGO token: %w", err)
	}
	return oneLeg{}, tok, true, nil
}

// oneLeg is a context that is complete after its first token.
type oneLeg struct{}

func (oneLeg) step([]byte) ([]byte, bool, error) {
	return nil, false, errors.New("the host rejected the Kerberos ticket")
}

func (oneLeg) release() {}

// tokenMech sends a fixed token in one leg: the lab's "Kerberos-like" flow in tests
// (the lab cannot check real tickets). Not reachable from Config.
type tokenMech struct{ token []byte }

func (m tokenMech) begin() (secContext, []byte, bool, error) { return oneLeg{}, m.token, true, nil }
