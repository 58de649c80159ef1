package kdctest

import (
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/keytab"
)

// TestKDC starts the KDC, adds a service, and logs in with gokrb5: the TGT, a service
// ticket for HTTP/<host>, and a keytab that holds the service's key; a wrong password is
// refused by the KDC.
func TestKDC(t *testing.T) {
	k, err := Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if err := k.AddService(t.Context(), "PC-1.lab.test"); err != nil {
		t.Fatal(err)
	}
	conf, err := config.Load(k.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	cl := client.NewWithPassword(k.User, Realm, k.Password, conf, client.DisablePAFXFAST(true))
	if err := cl.Login(); err != nil {
		t.Fatalf("login: %v", err)
	}
	tkt, _, err := cl.GetServiceTicket("HTTP/pc-1.lab.test")
	if err != nil {
		t.Fatalf("service ticket: %v", err)
	}
	kt, err := keytab.Load(k.Keytab)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := kt.GetEncryptionKey(tkt.SName, Realm, tkt.EncPart.KVNO, tkt.EncPart.EType); err != nil {
		t.Errorf("the keytab lacks the ticket's key: %v", err)
	}
	bad := client.NewWithPassword(k.User, Realm, "not-"+k.Password, conf, client.DisablePAFXFAST(true))
	if err := bad.Login(); err == nil || !strings.Contains(err.Error(), "KDC_ERR_PREAUTH_FAILED") {
		t.Errorf("wrong password: %v, want KDC_ERR_PREAUTH_FAILED", err)
	}
	nobody := client.NewWithPassword("nobody", Realm, k.Password, conf, client.DisablePAFXFAST(true))
	if err := nobody.Login(); err == nil || !strings.Contains(err.Error(), "KDC_ERR_C_PRINCIPAL_UNKNOWN") {
		t.Errorf("unknown principal: %v, want KDC_ERR_C_PRINCIPAL_UNKNOWN", err)
	}
}
