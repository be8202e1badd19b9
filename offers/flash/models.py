# Models of offers.flash (imported by offers/models.py so Django registers them under the offers app).
