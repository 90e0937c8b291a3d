package wistiasim

// Word lists for realistic values. Each project belongs to the channel its name and tags point
// at; the pipeline's default channel rules must map it there (docs/metrics.md, dim_media channel).

type projectSpec struct {
	name    string
	channel string
	tags    []string // channel tags a media of this project may carry
}

var projects = []projectSpec{
	{"Facebook Ads", "Facebook", []string{"facebook", "paid-social"}},
	{"FB Retargeting", "Facebook", []string{"facebook"}},
	{"YouTube Channel", "YouTube", []string{"youtube"}},
	{"YT Shorts", "YouTube", []string{"youtube", "shorts"}},
	{"Instagram Reels", "Instagram", []string{"instagram", "paid-social"}},
	{"LinkedIn Campaigns", "LinkedIn", []string{"linkedin", "b2b"}},
	{"Website Embeds", "Website", []string{"website"}},
	{"Email Nurture", "Email", []string{"email", "newsletter"}},
	{"Product Tours", "unknown", nil},
	{"Archive 2024", "unknown", nil},
}

var (
	genericTags = []string{"q4", "launch", "brand", "evergreen", "tutorial", "webinar", "customer-story"}
	adjectives  = []string{"Quick", "Deep", "Essential", "Complete", "Hidden", "Smart", "Bold", "Fresh", "Live", "Ultimate"}
	nouns       = []string{"Onboarding", "Demo", "Walkthrough", "Testimonial", "Teaser", "Recap", "Explainer", "Interview", "Keynote", "Tutorial"}
	folders     = []string{"Launch", "Evergreen", "Seasonal", "Partners", "Drafts"}
	hosts       = []string{"www.example-shop.com", "blog.example-shop.com", "learn.example-shop.com", "partners.example.org", "landing.example-shop.com"}
	paths       = []string{"/", "/pricing", "/features", "/blog/how-we-built-it", "/customers", "/webinars/fall", "/docs/getting-started"}
	orgs        = []string{"Comcast Cable", "Deutsche Telekom", "BT", "Orange", "Verizon", "Acme Corp", "Globex", "Initech", "University Network"}
	browsers    = []struct{ name, version, platform string }{
		{"Chrome", "131.0", "windows"}, {"Chrome", "130.0", "mac"}, {"Safari", "18.1", "mac"},
		{"Safari", "18.1", "ios"}, {"Firefox", "133.0", "linux"}, {"Edge", "131.0", "windows"}, {"Chrome", "131.0", "android"},
	}
	places = []struct {
		country, region, city string
		lat, lon              float64
		weight                int
	}{
		{"US", "California", "San Francisco", 37.77, -122.42, 30},
		{"US", "New York", "New York", 40.71, -74.01, 25},
		{"US", "Texas", "Austin", 30.27, -97.74, 10},
		{"GB", "England", "London", 51.51, -0.13, 10},
		{"DE", "Berlin", "Berlin", 52.52, 13.40, 7},
		{"FR", "Ile-de-France", "Paris", 48.86, 2.35, 6},
		{"CA", "Ontario", "Toronto", 43.65, -79.38, 5},
		{"IN", "Karnataka", "Bengaluru", 12.97, 77.59, 4},
		{"BR", "Sao Paulo", "Sao Paulo", -23.55, -46.63, 2},
		{"AU", "New South Wales", "Sydney", -33.87, 151.21, 1},
	}
	firstNames = []string{"Ann", "Bob", "Chen", "Dana", "Eve", "Farid", "Grace", "Hugo"}
)
