"""A small made-up word list shared by the character-level programs (no download needed)."""

WORDS = """
amara bennet calla dorian elowen farris gideon halia ivo jessamy kestrel linnea
marlo nerys orrin pella quill rosalind soren tamsin ulric vesna wren xanthe yorick
zelda abel brisa cosmo delphine emrys fenna gareth hollis isolde jory kaia lucan
mira nolan odette perrin quinta rhea silas thea umber valen willa ximena yara zane
alma bruno cleo dax esme felix gwen hugo ines jonah kit leda milo nina otto pia
remy sage tova uma vito wade xavi yuki zora anouk bastian corin della eamon
""".split()
