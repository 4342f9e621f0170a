package models

// SiteCount is one ReLU site's row in `autorep relus`.
type SiteCount struct {
	Name string `json:"name"`
	// Shape is the site's activation shape per image.
	Shape []int `json:"shape"`
	// Kept is the ReLUs the site evaluates per image (ReLUCount), Total
	// its positions (every one a ReLU in the all-ReLU model).
	Kept  int `json:"kept"`
	Total int `json:"total"`
}

// SiteCounts returns each site's row, in Sites order, the ReLUs kept per
// image and the all-ReLU count.
func (m *Model) SiteCounts() (rows []SiteCount, kept, full int) {
	perSite, kept := m.ReLUCount()
	rows = make([]SiteCount, len(m.Sites))
	for i, s := range m.Sites {
		rows[i] = SiteCount{Name: s.Name, Shape: s.Shape, Kept: perSite[i], Total: s.Size()}
		full += s.Size()
	}
	return rows, kept, full
}
