package doctor

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/site"
)

func TestCheckExclusions(t *testing.T) {
	t.Parallel()
	resolve := func(_ context.Context, key string) (*site.CollectionRef, error) {
		if key == "Kiosks" || key == "ABC00042" {
			return &site.CollectionRef{ID: "ABC00042", Name: "Kiosks", Members: 17}, nil
		}
		return nil, errors.New("no collection " + key)
	}
	got := checkExclusions(context.Background(), Options{Exclude: []string{"Kiosks", "Servers"}, ResolveCollection: resolve})
	if len(got) != 2 {
		t.Fatalf("%d results: %+v", len(got), got)
	}
	if got[0].Status != OK || got[0].Subject != "ABC00042" || !strings.Contains(got[0].Message, "17 members") {
		t.Errorf("known collection: %+v", got[0])
	}
	if got[1].Status != Fail || got[1].Subject != "Servers" || got[1].Fix == "" {
		t.Errorf("unknown collection: %+v", got[1])
	}
	if r := checkExclusions(context.Background(), Options{}); r != nil {
		t.Errorf("no exclusions listed %+v", r)
	}
}

func TestCheckPlanWarnings(t *testing.T) {
	t.Parallel()
	if r := checkPlanWarnings(context.Background(), Options{}); r != nil {
		t.Errorf("no warnings: %+v", r)
	}
	got := checkPlanWarnings(context.Background(), Options{PlanWarnings: []string{"follow_up repair_client: unconfirmed"}})
	if len(got) != 1 || got[0].Status != Warn || got[0].Check != "plan" || got[0].Message != "follow_up repair_client: unconfirmed" {
		t.Errorf("plan warnings: %+v", got)
	}
}
