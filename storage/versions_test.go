package storage

import "testing"

func TestVersions(t *testing.T) {
	v := newVersions()
	a, b := v.Version("ins_a"), v.Version("ins_b")
	v.Changed("ins_a")
	if v.Version("ins_a") == a {
		t.Error("a change to ins_a kept its version")
	}
	if v.Version("ins_a") != v.Version("ins_a") {
		t.Error("the version moved without a change")
	}
	b2 := v.Version("ins_b")
	v.Changed("")
	if v.Version("ins_b") == b2 || v.Version("ins_b") == b {
		t.Error("a change to everything kept ins_b's version")
	}
}

func TestCacheExpiresOnChange(t *testing.T) {
	d := &DB{versions: newVersions()}
	c := NewCache[string](d)
	at := c.Version("ins_a")
	c.Put("k", "ins_a", at, "running")
	if v, ok := c.Get("k"); !ok || v != "running" {
		t.Fatalf("Get = %q, %v; want the value put", v, ok)
	}
	d.Versions().Changed("ins_a")
	if _, ok := c.Get("k"); ok {
		t.Fatal("an entry outlived a change to its instance")
	}
	// A read that began before a change and is put after it never
	// serves: it carries the version from before.
	before := c.Version("ins_a")
	d.Versions().Changed("ins_a")
	c.Put("k", "ins_a", before, "stale")
	if _, ok := c.Get("k"); ok {
		t.Fatal("a read from before a change was served after it")
	}
	c.Put("k", "ins_a", c.Version("ins_a"), "fresh")
	d.Versions().Changed("")
	if _, ok := c.Get("k"); ok {
		t.Fatal("an entry outlived a change to everything")
	}
}
