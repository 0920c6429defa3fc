package tests

import ("testing";"os";"path/filepath")

func TestApacheDebug(t *testing.T) {
	a := startApache(t, apacheOpts{skipStatic: true})
	a.mg(t, "on")
	for _, p := range []string{"/static/app.css", "/media/logo.txt", "/robots.txt"} { t.Log(a.get(t, p)) }
	t.Log(a.get(t, "/static/../de/map/"))
	t.Log(a.get(t, "/de/map/"))
	b, _ := os.ReadFile(filepath.Join(a.dir, "access.log"))
	t.Log(string(b))
	t.Log(a.keyLines())
}
